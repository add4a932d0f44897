//! The self-contained HTML index of a run (`index.html`).
