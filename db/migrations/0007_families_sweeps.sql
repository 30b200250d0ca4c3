CREATE TABLE "sae_families" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"model_id" uuid,
	"hook_point" text NOT NULL,
	"purpose" text NOT NULL,
	"active_sae_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sae_families_key" UNIQUE NULLS NOT DISTINCT("model_id","hook_point","purpose")
);
--> statement-breakpoint
CREATE TABLE "sweep_trials" (
	"sweep_id" uuid NOT NULL,
	"number" integer NOT NULL,
	"params" jsonb NOT NULL,
	"training_id" uuid,
	"status" text DEFAULT 'running' NOT NULL,
	"objective" double precision,
	"reason" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone,
	CONSTRAINT "sweep_trials_sweep_id_number_pk" PRIMARY KEY("sweep_id","number"),
	CONSTRAINT "sweep_trials_training_key" UNIQUE("training_id")
);
--> statement-breakpoint
CREATE TABLE "sweeps" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"extraction_id" uuid NOT NULL,
	"spec" jsonb NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"progress" jsonb,
	"job_id" text,
	"error" text,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "saes" ADD COLUMN "family_id" uuid;--> statement-breakpoint
ALTER TABLE "saes" ADD COLUMN "version" integer;--> statement-breakpoint
ALTER TABLE "trainings" ADD COLUMN "purpose" text;--> statement-breakpoint
ALTER TABLE "sae_families" ADD CONSTRAINT "sae_families_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sae_families" ADD CONSTRAINT "sae_families_active_sae_id_saes_id_fk" FOREIGN KEY ("active_sae_id") REFERENCES "public"."saes"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sweep_trials" ADD CONSTRAINT "sweep_trials_sweep_id_sweeps_id_fk" FOREIGN KEY ("sweep_id") REFERENCES "public"."sweeps"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sweep_trials" ADD CONSTRAINT "sweep_trials_training_id_trainings_id_fk" FOREIGN KEY ("training_id") REFERENCES "public"."trainings"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sweeps" ADD CONSTRAINT "sweeps_extraction_id_extractions_id_fk" FOREIGN KEY ("extraction_id") REFERENCES "public"."extractions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "sweeps_extraction_idx" ON "sweeps" USING btree ("extraction_id");--> statement-breakpoint
ALTER TABLE "saes" ADD CONSTRAINT "saes_family_id_sae_families_id_fk" FOREIGN KEY ("family_id") REFERENCES "public"."sae_families"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "saes_family_idx" ON "saes" USING btree ("family_id");--> statement-breakpoint
-- existing SAEs: one family per model and hook (purpose `default`), versions in creation order, the first active
INSERT INTO "sae_families" ("model_id", "hook_point", "purpose") SELECT DISTINCT "model_id", "hook_point", 'default' FROM "saes" ON CONFLICT DO NOTHING;--> statement-breakpoint
UPDATE "saes" s SET "family_id" = f."id", "version" = v."version"
  FROM "sae_families" f, (SELECT "id", row_number() OVER (PARTITION BY "model_id", "hook_point" ORDER BY "created_at", "id")::int AS "version" FROM "saes") v
  WHERE v."id" = s."id" AND f."hook_point" = s."hook_point" AND f."purpose" = 'default' AND f."model_id" IS NOT DISTINCT FROM s."model_id";--> statement-breakpoint
UPDATE "sae_families" f SET "active_sae_id" = s."id" FROM "saes" s WHERE s."family_id" = f."id" AND s."version" = 1;
