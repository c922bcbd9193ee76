import { useId, type ReactNode } from 'react';

/**
 * A button that says why it cannot be pressed: while `why` is set it is disabled and the reason is shown right
 * beside it (and tied to it with aria-describedby), not hidden in a tooltip.
 */
export function GuardedButton({
  why,
  busy = false,
  className = 'primary',
  onClick,
  children,
}: {
  /** Why the button cannot be pressed now, in plain words; null when it can. */
  why: string | null;
  /** Disabled without a reason shown (a request is on its way). */
  busy?: boolean;
  className?: string;
  onClick(): void;
  children: ReactNode;
}) {
  const id = useId();
  return (
    <>
      <button
        type="button"
        className={className}
        disabled={why !== null || busy}
        aria-describedby={why !== null ? id : undefined}
        onClick={onClick}
      >
        {children}
      </button>
      {why !== null ? (
        <span id={id} className="why-disabled" data-testid="why-disabled">
          {why}
        </span>
      ) : null}
    </>
  );
}
