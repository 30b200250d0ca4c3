/** Features page. Placeholder until feature discovery lands. */
import { EmptyState } from '../ui/EmptyState.tsx';

export default function Features() {
  return <EmptyState title="Features" message="No features yet. Browsing and explaining SAE features arrives with the Features release." />;
}
