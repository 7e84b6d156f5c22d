"use client";
/** Browse a sandbox's files: list, upload, download, preview, delete. */
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { AetheriumApiError } from "@aetherium/sdk";
import type { FileEntry } from "@aetherium/types";
import { errorMessage } from "../lib/api/api.js";
import { formatBytes } from "../format/format.js";
import {
  canDelete,
  canRead,
  canUploadTo,
  FILES_START_PATH,
  joinPath as join,
  parentPath as parent,
} from "../lib/files/file-rules.js";
import { useApi, useToast } from "./providers.js";
import { Dialog, EmptyState, ErrorState, Icon, Loading, RelTime } from "./ui.js";

const PREVIEW_LIMIT = 256 * 1024;

export function FileBrowser({
  vmId,
  initialPath = FILES_START_PATH,
}: {
  vmId: string;
  initialPath?: string;
}) {
  const api = useApi();
  const toast = useToast();
  const qc = useQueryClient();
  const [path, setPath] = useState(initialPath);
  const [pathInput, setPathInput] = useState(initialPath);
  const [preview, setPreview] = useState<{ path: string; text: string; truncated: boolean } | null>(
    null,
  );
  const [uploading, setUploading] = useState(false);
  const fileInput = useRef<HTMLInputElement>(null);

  const list = useQuery({
    queryKey: ["files", vmId, path],
    queryFn: () => api.listFiles(vmId, path),
  });

  const go = (p: string) => {
    setPath(p);
    setPathInput(p);
    setPreview(null);
  };
  // An image without the start folder opens at `/` instead of an error (once: a later visit to
  // that path shows its error).
  const leftStart = useRef(false);
  const missingStart =
    !leftStart.current &&
    path === initialPath &&
    path !== "/" &&
    list.isError &&
    list.error instanceof AetheriumApiError &&
    list.error.status === 404;
  useEffect(() => {
    if (!missingStart) return;
    leftStart.current = true;
    go("/");
  }, [missingStart]);
  const uploadable = canUploadTo(path);

  const entries = [...(list.data?.entries ?? [])].sort(
    (a, b) => Number(b.type === "dir") - Number(a.type === "dir") || a.name.localeCompare(b.name),
  );

  const upload = async (files: FileList | null) => {
    if (!files || files.length === 0) return;
    setUploading(true);
    try {
      for (const f of Array.from(files)) {
        const bytes = new Uint8Array(await f.arrayBuffer());
        await api.writeFile(vmId, join(path, f.name), bytes);
      }
      toast(
        `Uploaded ${files.length === 1 ? files[0]!.name : `${files.length} files`} to ${path}`,
        "ok",
      );
      await qc.invalidateQueries({ queryKey: ["files", vmId, path] });
    } catch (err) {
      toast(`Upload failed: ${errorMessage(err)}`, "bad");
    } finally {
      setUploading(false);
      if (fileInput.current) fileInput.current.value = "";
    }
  };

  const download = async (e: FileEntry) => {
    try {
      const bytes = await api.readFile(vmId, join(path, e.name));
      const url = URL.createObjectURL(new Blob([bytes as BlobPart]));
      const a = document.createElement("a");
      a.href = url;
      a.download = e.name;
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      toast(`Download failed: ${errorMessage(err)}`, "bad");
    }
  };

  const view = async (e: FileEntry) => {
    try {
      const p = join(path, e.name);
      const bytes = await api.readFile(vmId, p);
      const slice = bytes.subarray(0, PREVIEW_LIMIT);
      setPreview({
        path: p,
        text: new TextDecoder().decode(slice),
        truncated: bytes.length > PREVIEW_LIMIT,
      });
    } catch (err) {
      toast(`Could not read the file: ${errorMessage(err)}`, "bad");
    }
  };

  const [removing, setRemoving] = useState<FileEntry | null>(null);
  const remove = async (e: FileEntry) => {
    setRemoving(null);
    try {
      await api.removeFile(vmId, join(path, e.name));
      toast(`Deleted ${e.name}`, "ok");
      await qc.invalidateQueries({ queryKey: ["files", vmId, path] });
    } catch (err) {
      toast(`Delete failed: ${errorMessage(err)}`, "bad");
    }
  };

  const crumbs = path.split("/").filter(Boolean);

  return (
    <div className="card">
      <div className="filters">
        <nav className="crumbs" aria-label="Path">
          <button type="button" onClick={() => go("/")}>
            /
          </button>
          {crumbs.map((c, i) => (
            <span key={i}>
              <button type="button" onClick={() => go(`/${crumbs.slice(0, i + 1).join("/")}`)}>
                {c}
              </button>
              {i < crumbs.length - 1 && "/"}
            </span>
          ))}
        </nav>
        <span className="spacer" />
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            if (pathInput.startsWith("/")) go(pathInput);
          }}
        >
          <input
            aria-label="Go to path"
            className="mono"
            value={pathInput}
            onChange={(e) => setPathInput(e.target.value)}
          />
          <button type="submit" className="btn small">
            Go
          </button>
        </form>
        <input
          ref={fileInput}
          disabled={!uploadable}
          type="file"
          multiple
          className="sr-only"
          id={`upload-${vmId}`}
          aria-label="Upload files"
          onChange={(e) => void upload(e.target.files)}
        />
        {uploadable ? (
          <button
            type="button"
            className="btn small primary"
            disabled={uploading}
            onClick={() => fileInput.current?.click()}
          >
            {uploading ? "Uploading…" : "Upload"}
          </button>
        ) : (
          <span className="faint small" data-testid="files-read-only">
            System folder: read only
          </span>
        )}
      </div>
      {list.isPending ? (
        <Loading rows={4} />
      ) : list.isError ? (
        <ErrorState error={list.error} retry={() => void list.refetch()} />
      ) : (
        <div className="table-wrap">
          <table className="table" aria-label="Files">
            <thead>
              <tr>
                <th>Name</th>
                <th className="num">Size</th>
                <th className="hide-narrow">Modified</th>
                <th />
              </tr>
            </thead>
            <tbody>
              {path !== "/" && (
                <tr>
                  <td colSpan={4}>
                    <button
                      type="button"
                      className="btn ghost small"
                      onClick={() => go(parent(path))}
                    >
                      ← ..
                    </button>
                  </td>
                </tr>
              )}
              {entries.length === 0 && (
                <tr>
                  <td colSpan={4}>
                    <EmptyState title="This folder is empty" icon="folder">
                      {uploadable ? "Upload a file to put it here." : null}
                    </EmptyState>
                  </td>
                </tr>
              )}
              {entries.map((e) => (
                <tr key={e.name} data-file={e.name}>
                  <td>
                    {e.type === "dir" ? (
                      <button
                        type="button"
                        className="btn ghost small file-row-name"
                        onClick={() => go(join(path, e.name))}
                      >
                        <Icon name="folder" size={14} /> {e.name}/
                      </button>
                    ) : (
                      <span className="file-row-name">
                        <Icon name={e.type === "symlink" ? "link" : "file"} size={14} /> {e.name}
                      </span>
                    )}
                  </td>
                  <td className="num muted">{e.type === "dir" ? "—" : formatBytes(e.size)}</td>
                  <td className="hide-narrow muted">
                    <RelTime iso={e.modifiedAt} />
                  </td>
                  <td style={{ textAlign: "right", whiteSpace: "nowrap" }}>
                    {canRead(path, e) && (
                      <>
                        <button type="button" className="btn small" onClick={() => void view(e)}>
                          View
                        </button>{" "}
                        <button
                          type="button"
                          className="btn small"
                          onClick={() => void download(e)}
                        >
                          Download
                        </button>{" "}
                      </>
                    )}
                    {canDelete(path, e) && (
                      <button
                        type="button"
                        className="btn small danger"
                        aria-label={`Delete ${e.name}`}
                        onClick={() => setRemoving(e)}
                      >
                        Delete
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {removing && (
        <Dialog
          title={`Delete ${removing.name}?`}
          description={`${join(path, removing.name)} is removed from the sandbox.`}
          onClose={() => setRemoving(null)}
          footer={
            <>
              <button type="button" className="btn" onClick={() => setRemoving(null)} data-close>
                Cancel
              </button>
              <button
                type="button"
                className="btn danger solid"
                onClick={() => void remove(removing)}
              >
                Delete
              </button>
            </>
          }
        >
          <span className="muted small">
            {removing.type === "dir"
              ? "Only an empty folder can be deleted."
              : formatBytes(removing.size)}
          </span>
        </Dialog>
      )}
      {preview && (
        <div className="card-body" style={{ borderTop: "1px solid var(--border)" }}>
          <div className="row" style={{ marginBottom: 8 }}>
            <strong className="mono">{preview.path}</strong>
            {preview.truncated && <span className="muted small">(first 256 KiB)</span>}
            <span className="spacer" />
            <button type="button" className="btn small" onClick={() => setPreview(null)}>
              Close
            </button>
          </div>
          <pre className="code" data-file-preview={preview.path}>
            {preview.text}
          </pre>
        </div>
      )}
    </div>
  );
}
