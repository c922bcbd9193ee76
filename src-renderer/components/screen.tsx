import { useEffect, useRef, type ReactNode } from 'react';

/**
 * One screen of the wizard. Its heading takes focus when the screen appears, so keyboard and screen-reader users
 * start reading at the top of each step.
 */
export function Screen({ title, lead, children }: { title: string; lead?: ReactNode; children: ReactNode }) {
  const h = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    h.current?.focus();
  }, [title]);
  return (
    <section className="screen" aria-labelledby="screen-title">
      <h1 id="screen-title" tabIndex={-1} ref={h}>
        {title}
      </h1>
      {lead ? <p className="lead">{lead}</p> : null}
      {children}
    </section>
  );
}
