/**
 * React hooks over a MemBank client (`@membank/sdk/react`; React is a peer dependency).
 *
 *   <MemBankProvider client={new MemBank({ baseUrl, bearerToken })}> ... </MemBankProvider>
 *   const { memories, loading, error, refresh } = useMemories(userId);
 *   const { results } = useSearch(userId, query);
 */
import { type ReactNode, createContext, createElement, useCallback, useContext, useEffect, useState } from "react";

import type { MemBank } from "../client.js";
import type { ENDPOINTS } from "../endpoints.js";
import type { MemBankError } from "../errors.js";
import type { CallOptions } from "../resources/base.js";
import type { Memory } from "../resources/memories.js";
import type { BodyOf, DataOf } from "../types.js";

const MemBankContext = createContext<MemBank | null>(null);

export interface MemBankProviderProps {
  client: MemBank;
  children?: ReactNode;
}

/** Makes `client` the one the hooks below use. */
export function MemBankProvider({ client, children }: MemBankProviderProps): ReactNode {
  return createElement(MemBankContext.Provider, { value: client }, children);
}

/** The client of the nearest MemBankProvider. */
export function useMemBank(): MemBank {
  const client = useContext(MemBankContext);
  if (client === null) throw new Error("useMemBank: wrap the component in a <MemBankProvider client={...}>");
  return client;
}

export interface AsyncState<T> {
  data: T | undefined;
  loading: boolean;
  error: MemBankError | Error | undefined;
  /** Fetch again (e.g. after a change). */
  refresh: () => void;
}

/** Runs `load` whenever `key` changes (or on refresh), aborting the previous, now stale, call. */
function useAsync<T>(key: string, enabled: boolean, load: (signal: AbortSignal) => Promise<T>): AsyncState<T> {
  const [state, setState] = useState<Omit<AsyncState<T>, "refresh">>({
    data: undefined,
    loading: enabled,
    error: undefined,
  });
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    if (!enabled) {
      setState({ data: undefined, loading: false, error: undefined });
      return;
    }
    const controller = new AbortController();
    setState((previous) => ({ ...previous, loading: true, error: undefined }));
    load(controller.signal).then(
      (data) => {
        if (!controller.signal.aborted) setState({ data, loading: false, error: undefined });
      },
      (error: unknown) => {
        if (!controller.signal.aborted) {
          setState({ data: undefined, loading: false, error: error instanceof Error ? error : new Error(String(error)) });
        }
      },
    );
    return () => controller.abort();
    // `load` is a fresh closure every render: `key` says when what it loads changed.
  }, [key, enabled, generation]);
  const refresh = useCallback(() => setGeneration((value) => value + 1), []);
  return { ...state, refresh };
}

type ListQuery = Omit<CallOptions<typeof ENDPOINTS.memories.list>, "signal">;

export interface MemoriesState extends AsyncState<DataOf<typeof ENDPOINTS.memories.list>> {
  /** The page's memories (empty while loading). */
  memories: Memory[];
  total: number | undefined;
}

/** One page of a user's memories (`limit`, `offset`, `sort_by`... as the list operation takes them). */
export function useMemories(userId: string | null | undefined, query: ListQuery = {}): MemoriesState {
  const client = useMemBank();
  const state = useAsync(JSON.stringify([userId, query]), Boolean(userId), (signal) =>
    client.memories.list(userId as string, { ...query, signal }),
  );
  return { ...state, memories: state.data?.memories ?? [], total: state.data?.total };
}

type SearchRequest = Omit<BodyOf<typeof ENDPOINTS.memories.search>, "user_id" | "query">;

export interface SearchState extends AsyncState<DataOf<typeof ENDPOINTS.memories.search>> {
  /** The ranked memories (empty while loading or for an empty query). */
  results: DataOf<typeof ENDPOINTS.memories.search>["memories"];
}

/** A user's memories ranked for `query`; searches again when either changes, and not for a blank query. */
export function useSearch(
  userId: string | null | undefined,
  query: string,
  request: SearchRequest = {},
): SearchState {
  const client = useMemBank();
  const enabled = Boolean(userId) && query.trim() !== "";
  const state = useAsync(JSON.stringify([userId, query, request]), enabled, (signal) =>
    client.memories.search({ ...request, user_id: userId as string, query }, { signal }),
  );
  return { ...state, results: state.data?.memories ?? [] };
}
