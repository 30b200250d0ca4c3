-- Label search (ILIKE '%…%') uses a trigram index. pg_trgm ships with PostgreSQL (the embedded one too) and is a
-- trusted extension, so a database owner may create it; where it cannot be, the search still works, by a scan.
DO $$ BEGIN
  CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
  RAISE WARNING 'pg_trgm is unavailable (%): feature label search will scan each SAE''s features', SQLERRM;
END $$;--> statement-breakpoint
CREATE TABLE "discoveries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"sae_id" uuid NOT NULL,
	"extraction_id" uuid,
	"dataset_id" uuid,
	"text" jsonb,
	"settings" jsonb NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"progress" jsonb,
	"rows" bigint,
	"job_id" text,
	"error" text,
	"warning" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
DROP INDEX "features_frequency_idx";--> statement-breakpoint
DROP INDEX "features_score_idx";--> statement-breakpoint
ALTER TABLE "feature_examples" ADD COLUMN "position" bigint;--> statement-breakpoint
ALTER TABLE "features" ADD COLUMN "discovery_id" uuid;--> statement-breakpoint
ALTER TABLE "features" ADD COLUMN "heuristic_label" text;--> statement-breakpoint
ALTER TABLE "features" ADD COLUMN "heuristic_score" real;--> statement-breakpoint
ALTER TABLE "features" ADD COLUMN "heuristic_kind" text;--> statement-breakpoint
ALTER TABLE "features" ADD COLUMN "llm_label" text;--> statement-breakpoint
ALTER TABLE "features" ADD COLUMN "peak_tokens" integer[] DEFAULT '{}'::integer[] NOT NULL;--> statement-breakpoint
ALTER TABLE "features" ADD COLUMN "top_tokens" jsonb;--> statement-breakpoint
ALTER TABLE "discoveries" ADD CONSTRAINT "discoveries_sae_id_saes_id_fk" FOREIGN KEY ("sae_id") REFERENCES "public"."saes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "discoveries" ADD CONSTRAINT "discoveries_extraction_id_extractions_id_fk" FOREIGN KEY ("extraction_id") REFERENCES "public"."extractions"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "discoveries" ADD CONSTRAINT "discoveries_dataset_id_datasets_id_fk" FOREIGN KEY ("dataset_id") REFERENCES "public"."datasets"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "discoveries_sae_idx" ON "discoveries" USING btree ("sae_id","created_at");--> statement-breakpoint
ALTER TABLE "features" ADD CONSTRAINT "features_discovery_id_discoveries_id_fk" FOREIGN KEY ("discovery_id") REFERENCES "public"."discoveries"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "features_max_idx" ON "features" USING btree ("sae_id","max_activation","index");--> statement-breakpoint
CREATE INDEX "features_favourite_idx" ON "features" USING btree ("sae_id","index") WHERE "features"."favourite";--> statement-breakpoint
CREATE INDEX "features_peak_tokens_idx" ON "features" USING gin ("peak_tokens");--> statement-breakpoint
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
    CREATE INDEX "features_label_trgm_idx" ON "features" USING gin ("label" gin_trgm_ops);
  END IF;
END $$;--> statement-breakpoint
CREATE INDEX "features_frequency_idx" ON "features" USING btree ("sae_id","frequency","index");--> statement-breakpoint
CREATE INDEX "features_score_idx" ON "features" USING btree ("sae_id","score","index");