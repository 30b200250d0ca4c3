/** Models page. Placeholder until the models pipeline lands. */
import { EmptyState } from '../ui/EmptyState.tsx';

export default function Models() {
  return <EmptyState title="Models" message="No models yet. Downloading models from a hub (or importing a folder) arrives with the Models release; the bundled demo model will be listed here." />;
}
