/** The median pruner: a planted bad trial is stopped with a reason, good ones and early ones kept. */
import { describe, expect, it } from 'vitest';
import { shouldPrune, type Curve } from './prune.ts';

/** A learning curve rising towards `top`, reported every 100 steps up to `last`. */
const curve = (top: number, last: number, every = 100): Curve => {
  const steps = Array.from({ length: last / every }, (_, i) => (i + 1) * every);
  return { steps, values: steps.map((s) => top * (1 - Math.exp(-s / 200))) };
};

// at step 300: 0.7768·top, so 0.54, 0.62, 0.66, 0.70, 0.73; median 0.66
const earlier = [0.7, 0.8, 0.85, 0.9, 0.94].map((top) => curve(top, 1000));

describe('shouldPrune', () => {
  it('stops a trial below the median of earlier trials at that step, and says why', () => {
    const bad = curve(0.53, 300);
    expect(shouldPrune(bad, earlier, 'maximize', { warmupSteps: 200 }, 'explained variance')).toEqual({
      prune: true,
      reason: 'explained variance 0.412 at step 300, below the median 0.66 of 5 earlier trials at that step',
    });
  });

  it('keeps a good trial, one still warming up, and any when too few earlier trials reached the step', () => {
    expect(shouldPrune(curve(0.88, 300), earlier, 'maximize', { warmupSteps: 200 }, 'explained variance')).toEqual({ prune: false, reason: null });
    expect(shouldPrune(curve(0.53, 300), earlier, 'maximize', { warmupSteps: 400 }, 'explained variance').prune).toBe(false);
    expect(shouldPrune(curve(0.53, 300), earlier.slice(0, 2), 'maximize', { warmupSteps: 0 }, 'explained variance').prune).toBe(false);
    expect(shouldPrune(curve(0.53, 300), earlier.slice(0, 2), 'maximize', { warmupSteps: 0, minTrials: 2 }, 'explained variance').prune).toBe(true);
    // earlier trials whose first report came after the step do not count
    const late = [0.9, 0.9, 0.9].map((top) => ({ steps: [500], values: [top] }));
    expect(shouldPrune(curve(0.53, 300), [...earlier.slice(0, 2), ...late], 'maximize', { warmupSteps: 0 }, 'explained variance').prune).toBe(false);
    expect(shouldPrune({ steps: [], values: [] }, earlier, 'maximize', { warmupSteps: 0 }, 'explained variance').prune).toBe(false);
  });

  it('reads earlier trials at their last step by the trial\'s, reported on other steps', () => {
    // earlier trials reported at 250 and 350 (values 1, 2, 3 at 250); the trial is at 300: the median of the values at 250 is 2
    const offset = [1, 2, 3].map((v) => ({ steps: [250, 350], values: [v, 100] }));
    expect(shouldPrune({ steps: [300], values: [1.5] }, offset, 'maximize', { warmupSteps: 0 }, 'x').prune).toBe(true);
    expect(shouldPrune({ steps: [300], values: [2.5] }, offset, 'maximize', { warmupSteps: 0 }, 'x').prune).toBe(false);
    // at the median: kept
    expect(shouldPrune({ steps: [300], values: [2] }, offset, 'maximize', { warmupSteps: 0 }, 'x').prune).toBe(false);
  });

  it('flips with the direction, takes the mean of the middle two for an even count, and prunes NaN', () => {
    const losses = [4, 6, 8, 10].map((v) => ({ steps: [100], values: [v] }));
    // median 7
    expect(shouldPrune({ steps: [100], values: [7.5] }, losses, 'minimize', { warmupSteps: 0 }, 'MSE')).toEqual({
      prune: true,
      reason: 'MSE 7.5 at step 100, above the median 7 of 4 earlier trials at that step',
    });
    expect(shouldPrune({ steps: [100], values: [6.9] }, losses, 'minimize', { warmupSteps: 0 }, 'MSE').prune).toBe(false);
    expect(shouldPrune({ steps: [100], values: [7] }, losses, 'minimize', { warmupSteps: 0 }, 'MSE').prune).toBe(false);
    expect(shouldPrune({ steps: [100], values: [NaN] }, losses, 'minimize', { warmupSteps: 0 }, 'MSE')).toEqual({ prune: true, reason: 'MSE is not a number at step 100' });
  });
});
