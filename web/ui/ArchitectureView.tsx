/**
 * A model's architecture: its dimensions, parameter counts, weight memory per
 * load dtype, and the forward pass as blocks listing their hook points with
 * shapes. Renders what it is given; the page fetches it.
 */
import { For } from 'solid-js';
import { MODEL_DTYPES, type Architecture, type ModelDtype } from '../../models/contracts/api.ts';
import { formatCount, formatShape, groupHookPoints } from '../data/model-view.ts';
import { formatBytes } from './format.ts';

const DTYPE_LABEL: Record<ModelDtype, string> = { fp32: 'fp32', fp16: 'fp16', q8: 'int8 (q8)', q4: '4-bit (q4)' };

export function ArchitectureView(props: { arch: Architecture; dtype: ModelDtype }) {
  const a = () => props.arch;
  const dims = () => [
    ['type', a().modelType],
    ['layers', a().layers],
    ['d_model', a().dModel],
    ['heads', `${a().nHeads} × ${a().dHead}${a().nKvHeads !== a().nHeads ? ` (${a().nKvHeads} KV)` : ''}`],
    ['d_mlp', a().dMlp],
    ['vocabulary', a().vocabSize],
    ['context', a().contextLength],
    ['norm', a().norm === 'rms' ? 'RMSNorm' : 'LayerNorm'],
    ['activation', a().activation],
    ['positions', a().positions],
    ['parameters', formatCount(a().parameters.total)],
  ];
  /** parameters of one block: the same for every block in the families Loupe builds, else a range */
  const perBlock = () => {
    const p = a().parameters.perLayer;
    if (p.length === 0) return '–';
    const lo = Math.min(...p);
    const hi = Math.max(...p);
    return lo === hi ? formatCount(lo) : `${formatCount(lo)}–${formatCount(hi)}`;
  };
  return (
    <div class="arch" data-testid="architecture">
      <dl class="arch-dims">
        <For each={dims()}>
          {([k, v]) => (
            <div>
              <dt>{k}</dt>
              <dd>{v}</dd>
            </div>
          )}
        </For>
      </dl>
      <div class="arch-cols">
        <table class="arch-memory" data-testid="architecture-memory">
          <caption class="muted" data-testid="weights-dtype">
            stored as {a().weightsDtype} in its files; in memory by load dtype:
          </caption>
          <thead>
            <tr>
              <th>loaded as</th>
              <th>weights in memory</th>
            </tr>
          </thead>
          <tbody>
            <For each={MODEL_DTYPES}>
              {(d) => (
                <tr classList={{ current: d === props.dtype }}>
                  <td>{DTYPE_LABEL[d]}</td>
                  <td>{formatBytes(a().dtypeBytes[d])}</td>
                </tr>
              )}
            </For>
          </tbody>
        </table>
        <p class="muted arch-params">
          {formatCount(a().parameters.embedding)} in embeddings, {perBlock()} per block{a().parallelResidual ? ', parallel attention and MLP' : ''}
        </p>
      </div>
      <ol class="arch-blocks">
        <For each={groupHookPoints(a().hookPoints)}>
          {(g) => (
            <li class="arch-block" data-testid={`arch-${g.key}`}>
              <h4>{g.title}</h4>
              <ul>
                <For each={g.hooks}>
                  {(h) => (
                    <li>
                      <code>{h.name}</code> <span class="muted">{formatShape(h.shape)}</span>
                    </li>
                  )}
                </For>
              </ul>
            </li>
          )}
        </For>
      </ol>
    </div>
  );
}
