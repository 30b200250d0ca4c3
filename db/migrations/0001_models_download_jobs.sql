CREATE TABLE "job_progress" (
	"job_id" uuid PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"progress" jsonb NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "dtype" text DEFAULT 'fp32' NOT NULL;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "progress" jsonb;--> statement-breakpoint
ALTER TABLE "models" ADD COLUMN "builtin" boolean DEFAULT false NOT NULL;