ALTER TABLE "job_progress" ALTER COLUMN "progress" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "job_progress" ADD COLUMN "worker_id" text;--> statement-breakpoint
ALTER TABLE "job_progress" ADD COLUMN "attempt" integer;--> statement-breakpoint
ALTER TABLE "workers" ADD COLUMN "heartbeat_at" timestamp with time zone DEFAULT now() NOT NULL;