/**
 * A setting that cannot work, naming it: thrown by the plain-arithmetic
 * checks of extractions (models/activations/plan.ts), discoveries over text
 * (models/features/sources.ts) and trainings (models/sae/config.ts). The API
 * answers it as a 400 naming `field` (server/app.ts), the CLI as a usage
 * error naming its option, a job as a permanent failure.
 */
export class SettingsError extends Error {
  /**
   * @param field the field of the request that is wrong: `contextLength`, `hookPoints.1`, `config.k`, …
   * @param reason why, without the field: "exceeds the model's context length 1024"
   */
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'SettingsError';
  }
}
