import { useEffect, useRef, type RefObject } from 'react';

/**
 * A question box (`.prompt`) is sticky at the bottom of the window, so it is never below the fold. On a short
 * window (1366×768) that stickiness pulled it up over the last line of the step's "What happens now", and
 * scrollIntoView then saw nothing to do (the sticky box is already in view). This scrolls the page by what the
 * box covers of the step above it (and the box's own top margin), so both are read in full; a box and text too
 * tall for the window together still keep the box in view (sticky).
 */
export function revealPrompt(box: HTMLElement | null): void {
  if (!box) return;
  box.scrollIntoView?.({ block: 'nearest' });
  const above = box.parentElement?.querySelector('.current-step');
  if (!above) return;
  const gap = Number.parseFloat(getComputedStyle(box).marginTop) || 0;
  const covered = above.getBoundingClientRect().bottom + gap - box.getBoundingClientRect().top;
  if (covered > 0.5) window.scrollBy?.(0, Math.ceil(covered));
}

/** A question box's ref, revealed (revealPrompt) once when it appears. */
export function useRevealedPrompt<T extends HTMLElement>(): RefObject<T | null> {
  const box = useRef<T>(null);
  useEffect(() => {
    revealPrompt(box.current);
  }, []);
  return box;
}
