/** The app shell: navigation, live status, and the page routes. */
import { A, Navigate, Route, Router, type RouteSectionProps } from '@solidjs/router';
import { lazy } from 'solid-js';
import { NavStatus } from './ui/NavStatus.tsx';

const PAGES = [
  { path: '/models', label: 'Models', component: lazy(() => import('./pages/Models.tsx')) },
  { path: '/datasets', label: 'Datasets', component: lazy(() => import('./pages/datasets/index.tsx')) },
  { path: '/extractions', label: 'Extractions', component: lazy(() => import('./pages/extractions/index.tsx')) },
  { path: '/training', label: 'Training', component: lazy(() => import('./pages/training/index.tsx')) },
  { path: '/features', label: 'Features', component: lazy(() => import('./pages/features/index.tsx')) },
  { path: '/system', label: 'System', component: lazy(() => import('./pages/System.tsx')) },
  { path: '/settings', label: 'Settings', component: lazy(() => import('./pages/Settings.tsx')) },
];
const NotFound = lazy(() => import('./pages/NotFound.tsx'));
const FeatureDetail = lazy(() => import('./pages/features/detail/index.tsx'));

function Shell(props: RouteSectionProps) {
  return (
    <div class="shell">
      <header class="topbar">
        <A href="/" class="brand" end>
          Loupe
        </A>
        <nav class="nav">
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
      <Route path="/features/:saeId/:index" component={FeatureDetail} />
      <Route path="*404" component={NotFound} />
    </Router>
  );
}
