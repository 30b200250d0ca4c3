/** The app shell: navigation, live status, and the page routes. */
import { A, Navigate, Route, Router, useLocation, type RouteSectionProps } from '@solidjs/router';
import { createEffect, createSignal, lazy, on } from 'solid-js';
import { NavStatus } from './ui/NavStatus.tsx';

const PAGES = [
  { path: '/models', label: 'Models', component: lazy(() => import('./pages/Models.tsx')) },
  { path: '/datasets', label: 'Datasets', component: lazy(() => import('./pages/datasets/index.tsx')) },
  { path: '/extractions', label: 'Extractions', component: lazy(() => import('./pages/extractions/index.tsx')) },
  { path: '/training', label: 'Training', component: lazy(() => import('./pages/training/index.tsx')) },
  { path: '/compare', label: 'Compare', component: lazy(() => import('./pages/compare/index.tsx')) },
  { path: '/sweeps', label: 'Sweeps', component: lazy(() => import('./pages/sweeps/index.tsx')) },
  { path: '/features', label: 'Features', component: lazy(() => import('./pages/features/index.tsx')) },
  { path: '/inspector', label: 'Inspector', component: lazy(() => import('./pages/inspector/index.tsx')) },
  { path: '/system', label: 'System', component: lazy(() => import('./pages/System.tsx')) },
  { path: '/settings', label: 'Settings', component: lazy(() => import('./pages/Settings.tsx')) },
];
const NotFound = lazy(() => import('./pages/NotFound.tsx'));
const FeatureDetail = lazy(() => import('./pages/features/detail/index.tsx'));

function Shell(props: RouteSectionProps) {
  // Below ~700 px the pages fold into a menu (styles.css), opened by the button and closed by any navigation.
  const [menuOpen, setMenuOpen] = createSignal(false);
  const location = useLocation();
  createEffect(on(() => location.pathname, () => setMenuOpen(false), { defer: true }));
  return (
    <div class="shell">
      <header class="topbar" classList={{ 'menu-open': menuOpen() }}>
        <A href="/" class="brand" end>
          Loupe
        </A>
        <button type="button" class="menu-button" aria-expanded={menuOpen()} aria-controls="main-nav" onClick={() => setMenuOpen((o) => !o)} data-testid="menu-button">
          <span aria-hidden="true">☰</span> Menu
        </button>
        <nav class="nav" id="main-nav" aria-label="Pages">
          {PAGES.map((p) => (
            <A href={p.path} activeClass="active">
              {p.label}
            </A>
          ))}
        </nav>
        <NavStatus />
      </header>
      <main class="main">{props.children}</main>
    </div>
  );
}

export function App() {
  return (
    <Router root={Shell}>
      <Route path="/" component={() => <Navigate href="/system" />} />
      {PAGES.map((p) => (
        <Route path={p.path} component={p.component} />
      ))}
      {/* the feature's page also says what is wrong with an address without an index */}
      <Route path="/features/:saeId/:index?" component={FeatureDetail} />
      <Route path="*404" component={NotFound} />
    </Router>
  );
}
