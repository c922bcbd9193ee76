import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { MISSING_BRIDGE_MESSAGE, readRecoveryApi } from './api.js';
import { App } from './app.js';
import './styles.css';
import './guidance.css';

const root = document.getElementById('root');
if (root) {
  const api = readRecoveryApi();
  if (api) {
    createRoot(root).render(
      <StrictMode>
        <App api={api} />
      </StrictMode>,
    );
  } else {
    // No React tree: the plainest possible message, so it shows even if something else is broken.
    const box = document.createElement('div');
    box.className = 'bridge-missing';
    box.setAttribute('role', 'alert');
    const h = document.createElement('h1');
    h.textContent = 'The wizard cannot start';
    const p = document.createElement('p');
    p.textContent = MISSING_BRIDGE_MESSAGE;
    box.append(h, p);
    root.replaceChildren(box);
  }
}
