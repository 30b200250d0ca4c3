/** Extractions page. Placeholder until activation extraction lands. */
import { EmptyState } from '../ui/EmptyState.tsx';

export default function Extractions() {
  return <EmptyState title="Extractions" message="No extractions yet. Recording activations at hook points arrives with the Extraction release." />;
}
