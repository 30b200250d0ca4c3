/** Training page. Placeholder until SAE training lands. */
import { EmptyState } from '../ui/EmptyState.tsx';

export default function Training() {
  return <EmptyState title="Training" message="No trainings yet. Training sparse autoencoders, with live loss charts, arrives with the Training release." />;
}
