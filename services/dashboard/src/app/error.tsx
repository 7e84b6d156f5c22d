"use client";
/** Shown when a page throws while rendering: says what broke and offers a retry. */
import { useEffect } from "react";

export default function PageError({ error, reset }: { error: Error; reset: () => void }) {
  useEffect(() => {
    console.error(error);
  }, [error]);
  return (
    <div className="card">
      <div className="state error" role="alert">
        <div className="state-title">This page hit an error</div>
        <p>{error.message || "Something went wrong while showing this page."}</p>
        <button type="button" className="btn" onClick={reset}>
          Try again
        </button>
      </div>
    </div>
  );
}
