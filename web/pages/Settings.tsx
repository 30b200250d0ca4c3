/** Settings page. Placeholder until settings exist. */
import { EmptyState } from '../ui/EmptyState.tsx';

export default function Settings() {
  return <EmptyState title="Settings" message="Nothing to configure yet. The LLM endpoint for feature labels and default settings arrive with the Features release." />;
}
