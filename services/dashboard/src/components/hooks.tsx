"use client";
/** Queries and mutations every page shares, keyed so the live stream can patch them. */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import type { Page, Vm } from "@aetherium/types";
import type { TaskFilter, VmFilter } from "../lib/live/reducers.js";
import { applyVmToPage, filterVms } from "../lib/live/reducers.js";
import { errorMessage } from "../lib/api/api.js";
import { collectPages } from "../lib/paging/collect-pages.js";
import { useApi, useLive, useToast } from "./providers.js";

/** Sets the document title: "<page> · Aetherium". */
export function useTitle(title: string) {
  useEffect(() => {
    document.title = `${title} · Aetherium`;
  }, [title]);
}

/**
 * How many pages of a list to show for `filter`, and "Show more". A new filter starts at one page
 * again in the same render (derived, not reset by an effect after it, which would first fetch the
 * new filter's rows as many pages deep as the old one had reached).
 */
export function usePages(filter: object): [pages: number, showMore: () => void] {
  const key = JSON.stringify(filter);
  const [state, setState] = useState({ key, pages: 1 });
  const pages = state.key === key ? state.pages : 1;
  return [pages, () => setState({ key, pages: pages + 1 })];
}

/**
 * Keeps the rows on screen while "Show more" loads one more page of the same list; a changed
 * filter shows the loading state instead of the previous filter's rows.
 */
function morePagesOf<T>(filter: object) {
  const key = JSON.stringify(filter);
  return (previous: T | undefined, query: { queryKey: readonly unknown[] } | undefined) =>
    query !== undefined && JSON.stringify(query.queryKey[1] ?? {}) === key ? previous : undefined;
}

/** How often a pending sandbox is read again, for its pending reason. */
const PENDING_POLL_MS = 2000;

/**
 * Sandboxes matching `filter`: the first `pages` pages (200 each) joined; raise `pages` for
 * "Show more". `nextCursor` says whether there are more.
 */
export function useVms(filter: VmFilter = {}, pages = 1) {
  const api = useApi();
  const { fallbackInterval } = useLive();
  return useQuery({
    queryKey: ["vms", filter, pages],
    queryFn: async () => {
      const page = await collectPages(
        (cursor) =>
          api.listVms({
            ...(cursor ? { cursor } : {}),
            ...(filter.status?.length ? { status: filter.status } : {}),
            ...(filter.labels ? { labels: filter.labels } : {}),
            ...(filter.workerId ? { workerId: filter.workerId } : {}),
          }),
        pages,
      );
      return { ...page, items: filterVms(page.items, filter) };
    },
    placeholderData: morePagesOf(filter),
    refetchInterval: fallbackInterval,
  });
}

export function useVm(id: string) {
  const api = useApi();
  const { fallbackInterval } = useLive();
  return useQuery({
    queryKey: ["vm", id],
    queryFn: () => api.getVm(id),
    enabled: id !== "",
    // A waiting sandbox's reason changes without an event (a worker frees up, another fills):
    // poll while it is pending.
    refetchInterval: (query) =>
      query.state.data?.status === "pending" ? PENDING_POLL_MS : fallbackInterval,
  });
}

/** Tasks matching `filter`, newest first: the first `pages` pages of `limit` joined. */
export function useTasks(filter: TaskFilter = {}, limit = 200, pages = 1) {
  const api = useApi();
  const { fallbackInterval } = useLive();
  return useQuery({
    queryKey: ["tasks", filter, limit, pages],
    queryFn: () =>
      collectPages(
        (cursor) =>
          api.listTasks({
            limit,
            ...(cursor ? { cursor } : {}),
            ...(filter.status?.length ? { status: filter.status } : {}),
            ...(filter.type?.length ? { type: filter.type } : {}),
            ...(filter.vmId ? { vmId: filter.vmId } : {}),
          }),
        pages,
      ),
    placeholderData: morePagesOf(filter),
    refetchInterval: fallbackInterval,
  });
}

export function useWorkers() {
  const api = useApi();
  const { fallbackInterval } = useLive();
  return useQuery({
    queryKey: ["workers"],
    queryFn: () => api.listWorkers(),
    refetchInterval: fallbackInterval,
  });
}

export function useClusterStats() {
  const api = useApi();
  const { fallbackInterval } = useLive();
  return useQuery({
    queryKey: ["cluster-stats"],
    queryFn: () => api.clusterStats(),
    refetchInterval: fallbackInterval,
  });
}

/** The backends the fleet offers now; refetched with worker events like the workers list. */
export function useBackends() {
  const api = useApi();
  const { fallbackInterval } = useLive();
  return useQuery({
    queryKey: ["backends"],
    queryFn: () => api.backends(),
    refetchInterval: fallbackInterval,
  });
}

export function useHealth() {
  const api = useApi();
  const { fallbackInterval } = useLive();
  // Health has no event of its own: it is refetched with worker events (heartbeats, health
  // changes), on reconnect and on focus, and polled only while the stream is down.
  return useQuery({
    queryKey: ["health"],
    queryFn: () => api.health(),
    refetchInterval: fallbackInterval,
  });
}

/** A sandbox action (stop/start/delete) with a toast either way. */
export function useVmAction(action: "stop" | "start" | "delete") {
  const api = useApi();
  const toast = useToast();
  const qc = useQueryClient();
  return useMutation({
    mutationFn: async (vm: Vm) => {
      if (action === "stop") await api.stopVm(vm.id);
      else if (action === "start") await api.startVm(vm.id);
      else await api.deleteVm(vm.id);
      return vm;
    },
    onSuccess: (vm) => {
      toast(
        `${action === "delete" ? "Deleting" : action === "stop" ? "Stopping" : "Starting"} ${vm.name}…`,
        "ok",
      );
      void qc.invalidateQueries({ queryKey: ["vm", vm.id] });
    },
    onError: (err) => toast(`Could not ${action} the sandbox: ${errorMessage(err)}`, "bad"),
  });
}

/** Puts a sandbox the API just returned into every list it belongs to. */
export function useInsertVm() {
  const qc = useQueryClient();
  return (vm: Vm) => {
    for (const q of qc.getQueryCache().findAll({ queryKey: ["vms"] })) {
      qc.setQueryData<Page<Vm>>(q.queryKey, (old) => applyVmToPage(old, vm, q.queryKey[1] ?? {}));
    }
    qc.setQueryData(["vm", vm.id], vm);
  };
}
