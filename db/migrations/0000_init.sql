CREATE TABLE "analysis_cache" (
	"key" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"sae_id" uuid,
	"feature_index" integer,
	"result" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "datasets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"source" jsonb NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"tokenizer_model_id" uuid,
	"settings" jsonb,
	"stats" jsonb,
	"path" text,
	"size_bytes" bigint,
	"job_id" text,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "event_payloads" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"topic" text NOT NULL,
	"data" jsonb NOT NULL,
	"ts" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "extractions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"model_id" uuid NOT NULL,
	"dataset_id" uuid NOT NULL,
	"hook_points" text[] NOT NULL,
	"settings" jsonb NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"progress" jsonb,
	"stats" jsonb,
	"path" text,
	"job_id" text,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "feature_examples" (
	"sae_id" uuid NOT NULL,
	"feature_index" integer NOT NULL,
	"rank" smallint NOT NULL,
	"max_value" real NOT NULL,
	"tokens" integer[] NOT NULL,
	"values" real[] NOT NULL,
	"dataset_offset" bigint NOT NULL,
	CONSTRAINT "feature_examples_sae_id_feature_index_rank_pk" PRIMARY KEY("sae_id","feature_index","rank")
);
--> statement-breakpoint
CREATE TABLE "features" (
	"sae_id" uuid NOT NULL,
	"index" integer NOT NULL,
	"frequency" real NOT NULL,
	"max_activation" real NOT NULL,
	"mean_activation" real NOT NULL,
	"histogram" jsonb,
	"label" text,
	"label_source" text,
	"score" real,
	"favourite" boolean DEFAULT false NOT NULL,
	"notes" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "features_sae_id_index_pk" PRIMARY KEY("sae_id","index")
);
--> statement-breakpoint
CREATE TABLE "models" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"source" jsonb NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"architecture" text,
	"config" jsonb,
	"path" text,
	"size_bytes" bigint,
	"job_id" text,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "saes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"training_id" uuid,
	"model_id" uuid,
	"hook_point" text NOT NULL,
	"architecture" text NOT NULL,
	"d_in" integer NOT NULL,
	"d_sae" integer NOT NULL,
	"cfg" jsonb NOT NULL,
	"metrics" jsonb,
	"path" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "settings" (
	"key" text PRIMARY KEY NOT NULL,
	"value" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "system_metrics" (
	"host" text NOT NULL,
	"resolution_s" smallint NOT NULL,
	"ts" timestamp with time zone NOT NULL,
	"metric" text NOT NULL,
	"min" double precision NOT NULL,
	"max" double precision NOT NULL,
	"last" double precision NOT NULL,
	"avg" double precision NOT NULL,
	CONSTRAINT "system_metrics_host_resolution_s_ts_metric_pk" PRIMARY KEY("host","resolution_s","ts","metric")
);
--> statement-breakpoint
CREATE TABLE "training_metrics" (
	"training_id" uuid NOT NULL,
	"hook_point" text NOT NULL,
	"step" integer NOT NULL,
	"tokens" bigint NOT NULL,
	"ts" timestamp with time zone DEFAULT now() NOT NULL,
	"values" jsonb NOT NULL,
	CONSTRAINT "training_metrics_training_id_hook_point_step_pk" PRIMARY KEY("training_id","hook_point","step")
);
--> statement-breakpoint
CREATE TABLE "trainings" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"extraction_id" uuid NOT NULL,
	"config" jsonb NOT NULL,
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
CREATE TABLE "workers" (
	"id" text PRIMARY KEY NOT NULL,
	"host" text NOT NULL,
	"pid" integer NOT NULL,
	"concurrency" integer NOT NULL,
	"queues" text[] DEFAULT '{}'::text[] NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"last_seen" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "analysis_cache" ADD CONSTRAINT "analysis_cache_sae_id_saes_id_fk" FOREIGN KEY ("sae_id") REFERENCES "public"."saes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "datasets" ADD CONSTRAINT "datasets_tokenizer_model_id_models_id_fk" FOREIGN KEY ("tokenizer_model_id") REFERENCES "public"."models"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "extractions" ADD CONSTRAINT "extractions_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "extractions" ADD CONSTRAINT "extractions_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "feature_examples" ADD CONSTRAINT "feature_examples_sae_id_feature_index_features_sae_id_index_fk" FOREIGN KEY ("sae_id","feature_index") REFERENCES "public"."features"("sae_id","index") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "features" ADD CONSTRAINT "features_sae_id_saes_id_fk" FOREIGN KEY ("sae_id") REFERENCES "public"."saes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "saes" ADD CONSTRAINT "saes_training_id_trainings_id_fk" FOREIGN KEY ("training_id") REFERENCES "public"."trainings"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "saes" ADD CONSTRAINT "saes_model_id_models_id_fk" FOREIGN KEY ("model_id") REFERENCES "public"."models"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "training_metrics" ADD CONSTRAINT "training_metrics_training_id_trainings_id_fk" FOREIGN KEY ("training_id") REFERENCES "public"."trainings"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "trainings" ADD CONSTRAINT "trainings_extraction_id_extractions_id_fk" FOREIGN KEY ("extraction_id") REFERENCES "public"."extractions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "analysis_cache_expires_idx" ON "analysis_cache" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "event_payloads_created_idx" ON "event_payloads" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "extractions_model_idx" ON "extractions" USING btree ("model_id");--> statement-breakpoint
CREATE INDEX "extractions_dataset_idx" ON "extractions" USING btree ("dataset_id");--> statement-breakpoint
CREATE INDEX "features_frequency_idx" ON "features" USING btree ("sae_id","frequency");--> statement-breakpoint
CREATE INDEX "features_score_idx" ON "features" USING btree ("sae_id","score");--> statement-breakpoint
CREATE INDEX "saes_training_idx" ON "saes" USING btree ("training_id");--> statement-breakpoint
CREATE INDEX "system_metrics_resolution_ts_idx" ON "system_metrics" USING btree ("resolution_s","ts");--> statement-breakpoint
CREATE INDEX "system_metrics_metric_idx" ON "system_metrics" USING btree ("host","resolution_s","metric","ts");--> statement-breakpoint
CREATE INDEX "trainings_extraction_idx" ON "trainings" USING btree ("extraction_id");