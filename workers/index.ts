/** Every job kind a worker runs. A new kind is a new file in workers/ and a line here. */
import { activationsExtract } from './activations-extract.ts';
import { datasetImport } from './dataset-import.ts';
import { demoSetup } from './demo-setup.ts';
import { featuresAnalyze } from './features-analyze.ts';
import { featuresDiscover } from './features-discover.ts';
import type { JobKind } from './job.ts';
import { modelDownload } from './model-download.ts';
import { saeTrain } from './sae-train.ts';
import { sweepRun } from './sweep.ts';
import { systemMaintenance } from './system-maintenance.ts';

export const JOB_KINDS: readonly JobKind<any>[] = [systemMaintenance, modelDownload, datasetImport, activationsExtract, saeTrain, featuresDiscover, featuresAnalyze, demoSetup, sweepRun];
