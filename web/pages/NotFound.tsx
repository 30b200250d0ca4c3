/** Shown for any route the app does not know. */
import { A, useLocation } from '@solidjs/router';

export default function NotFound() {
  const location = useLocation();
  return (
    <section class="empty">
      <h1>Page not found</h1>
      <p>
        Nothing lives at <code>{location.pathname}</code>. Go to the <A href="/system">System</A> page.
      </p>
    </section>
  );
}
