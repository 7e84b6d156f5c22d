import Link from "next/link";

export default function NotFound() {
  return (
    <div className="card">
      <div className="state">
        <div className="state-title">There is no page here</div>
        <p>The address may be mistyped, or the page moved.</p>
        <Link className="btn primary" href="/">
          Go to the overview
        </Link>
      </div>
    </div>
  );
}
