ALTER TABLE "discoveries" ADD COLUMN "device" jsonb;--> statement-breakpoint
ALTER TABLE "extractions" ADD COLUMN "device" jsonb;--> statement-breakpoint
ALTER TABLE "trainings" ADD COLUMN "device" jsonb;--> statement-breakpoint
ALTER TABLE "workers" ADD COLUMN "device" text;--> statement-breakpoint
ALTER TABLE "workers" ADD COLUMN "adapters" jsonb;