/** Datasets page. Placeholder until dataset import lands. */
import { EmptyState } from '../ui/EmptyState.tsx';

export default function Datasets() {
  return <EmptyState title="Datasets" message="No datasets yet. Importing and tokenizing text datasets arrives with the Datasets release." />;
}
