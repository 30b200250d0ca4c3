import { createEffect, createMemo, createSignal, For, on, onCleanup, Show } from 'solid-js';
import type { Extraction, ExtractionDetail } from '../../../models/contracts/extractions.ts';
import { errorMessage } from '../../api.ts';
import { formatInt, formatStat, isRunning } from '../../data/extraction-view.ts';
import { loadDetail } from '../../data/extractions.ts';
import { formatBytes } from '../../ui/format.ts';
import { VarianceChart } from '../../ui/VarianceChart.tsx';

/** What a run stored: per hook its shape, shards, rows, statistics and per-dimension variance. */
export function RunDetail(props: { run: Extraction }) {
  const [detail, setDetail] = createSignal<ExtractionDetail>();
  const [failure, setFailure] = createSignal<string>();
  const ac = new AbortController();
  onCleanup(() => ac.abort());
  // Loaded on open, and again when the run's status or shard count changes.
  const version = createMemo(() => `${props.run.status}/${props.run.progress?.shards ?? 0}`);
  createEffect(
    on(
      version,
      () => {
        loadDetail(props.run.id, ac.signal).then(
          (d) => (setDetail(d), setFailure(undefined)),
          (err) => !ac.signal.aborted && setFailure(errorMessage(err)),
        );
      },
    ),
  );
  return (
    <section class="run-detail" data-testid="run-detail">
      <Show when={failure()}>
        <p class="error" role="alert">
          Could not load the run: {failure()}
        </p>
      </Show>
      <Show when={detail()} fallback={<p class="muted">Loading…</p>}>
        {(d) => (
          <Show when={d().manifest} fallback={<p class="muted" data-testid="detail-empty">{isRunning(d().status) ? 'Nothing stored yet: the first shard is on its way.' : 'No files: this run stored nothing, or its files were deleted.'}</p>}>
            {(m) => (
              <>
                <p class="muted">
                  {m().complete ? 'complete' : 'in progress'} · {formatInt(m().windowsDone)} of {formatInt(m().windowsTotal)} windows · {formatInt(m().tokensDone)} tokens · {m().windowsPerShard} windows a shard
                </p>
                <table class="run-hooks" tabIndex={0} aria-label="each hook's stored rows" data-testid="run-hooks">
                  <thead>
                    <tr>
                      <th>hook</th>
                      <th>row</th>
                      <th>dtype</th>
                      <th>shards</th>
                      <th>rows</th>
                      <th>size</th>
                      <th>mean norm</th>
                      <th>mean variance</th>
                      <th>max variance</th>
                    </tr>
                  </thead>
                  <tbody>
                    <For each={m().hooks}>
                      {(h) => (
                        <tr data-testid={`hook-row-${h.hook}`}>
                          <td>
                            <code>{h.hook}</code>
                          </td>
                          <td>[{h.rowShape.join(' × ')}]</td>
                          <td>{h.dtype}</td>
                          <td>{h.shards}</td>
                          <td>{formatInt(h.rows)}</td>
                          <td>{formatBytes(h.bytes)}</td>
                          <td data-testid="mean-norm">{formatStat(h.stats.meanNorm)}</td>
                          <td>{formatStat(h.stats.meanVariance)}</td>
                          <td>{formatStat(h.stats.maxVariance)}</td>
                        </tr>
                      )}
                    </For>
                  </tbody>
                </table>
                <div class="run-charts">
                  <For each={m().hooks}>
                    {(h) => (
                      <div class="run-chart">
                        <div class="chart-title">
                          <code>{h.hook}</code> per-dimension variance
                        </div>
                        <VarianceChart mean={h.variance.mean} max={h.variance.max} bucket={h.variance.bucket} d={h.d} testId={`variance-${h.hook}`} />
                      </div>
                    )}
                  </For>
                </div>
              </>
            )}
          </Show>
        )}
      </Show>
    </section>
  );
}
