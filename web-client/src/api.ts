// The Relais REST API, as this client uses it. Errors come back as
// `{ error: { code, message } }`; state-changing requests carry the session's
// CSRF token, which the server hands out with the session.

export interface User {
  id: string
  email: string
  display_name: string
  kind: string
  external: boolean
  organisation_id: string | null
  is_admin: boolean
  disabled: boolean
}

export interface Session {
  user: User
  csrf_token: string
}

export type Role = 'owner' | 'validator' | 'editor' | 'commenter' | 'reader'

export interface Organisation {
  id: string
  name: string
}

export interface Workspace {
  id: string
  organisation_id: string
  name: string
  role: Role
}

export interface DocumentInfo {
  id: string
  workspace_id: string | null
  title: string
  created_by: string | null
  created_at_ms: number
  role: Role
}

export interface Member {
  user: User
  role: Role
  expires_at_ms: number | null
  sponsor_id: string | null
  expired: boolean
}

export interface Invitation {
  id: string
  email: string
  workspace_id: string | null
  document_id: string | null
  role: Role
  expires_at_ms: number
  sponsor_id: string
  status: 'open' | 'accepted' | 'revoked' | 'expired'
}

export interface CreatedInvitation {
  invitation: Invitation
  url: string
}

/** Someone as chat shows them; external partners are marked wherever their name appears. */
export interface Author {
  id: string
  display_name: string
  external: boolean
}

export interface Reaction {
  emoji: string
  user_ids: string[]
}

export interface Attachment {
  id: string
  file_name: string
  content_type: string
  len: number
  url: string
}

/**
 * A committed chat message. `body` is the Markdown as sent and must never reach the page
 * as HTML; `html` is the server's safe rendering, the only form to insert.
 */
export interface ChatMessage {
  conversation_id: string
  seq: number
  id: string
  author: Author
  client_id: string
  body: string
  html: string
  reply_to_seq: number | null
  mentions: string[]
  mentions_all: boolean
  attachments: Attachment[]
  reactions: Reaction[]
  created_at_ms: number
  edited_at_ms: number | null
  deleted: boolean
}

export type ConversationKind = 'channel' | 'direct' | 'document'

export interface Conversation {
  id: string
  kind: ConversationKind
  workspace_id: string | null
  document_id: string | null
  name: string | null
  private: boolean
  last_seq: number
  last_read_seq: number
  unread: number
  mentions: number
  /** Direct conversations: everyone in it, the caller included. */
  participants: Author[]
  can_write: boolean
}

/** A refusal from the server (`status` 0: the server could not be reached). */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message)
  }
}

let csrfToken = ''

/** Remembers the session's CSRF token for the next state-changing requests. */
export function useSession(session: Session | null): Session | null {
  csrfToken = session?.csrf_token ?? ''
  return session
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (method !== 'GET') headers['X-CSRF-Token'] = csrfToken
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? null : JSON.stringify(body),
      credentials: 'same-origin'
    })
  } catch {
    throw new ApiError(0, 'network', 'server unreachable')
  }
  if (response.status === 204) return undefined as T
  const data: unknown = await response.json().catch(() => null)
  if (!response.ok) {
    const error = (data as { error?: { code?: unknown, message?: unknown } } | null)?.error
    throw new ApiError(
      response.status,
      typeof error?.code === 'string' ? error.code : 'unknown',
      typeof error?.message === 'string' ? error.message : response.statusText
    )
  }
  return data as T
}

const path = (strings: TemplateStringsArray, ...ids: string[]) =>
  strings.reduce((out, part, i) => out + part + (i < ids.length ? encodeURIComponent(ids[i] as string) : ''), '')

/** The current session, or null when signed out. */
export async function currentSession(): Promise<Session | null> {
  try {
    return useSession(await call<Session>('GET', '/api/session'))
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return useSession(null)
    throw error
  }
}

export const api = {
  signIn: async (email: string, password: string) =>
    useSession(await call<Session>('POST', '/api/session', { email, password })) as Session,
  signOut: () => call<void>('DELETE', '/api/session'),
  organisations: () => call<Organisation[]>('GET', '/api/organisations'),
  workspaces: () => call<Workspace[]>('GET', '/api/workspaces'),
  createWorkspace: (organisation_id: string, name: string) =>
    call<Workspace>('POST', '/api/workspaces', { organisation_id, name }),
  members: (workspace: string) => call<Member[]>('GET', path`/api/workspaces/${workspace}/members`),
  documents: (workspace: string) => call<DocumentInfo[]>('GET', path`/api/workspaces/${workspace}/documents`),
  createDocument: (workspace: string, title: string) =>
    call<DocumentInfo>('POST', path`/api/workspaces/${workspace}/documents`, { title }),
  sharedDocuments: () => call<DocumentInfo[]>('GET', '/api/documents'),
  document: (id: string) => call<DocumentInfo>('GET', path`/api/documents/${id}`),
  invite: (workspace: string, email: string, role: Role, expires_at_ms: number) =>
    call<CreatedInvitation>('POST', path`/api/workspaces/${workspace}/invitations`, { email, role, expires_at_ms }),
  invitation: (secret: string) => call<Invitation>('GET', path`/api/invitations/${secret}`),
  conversations: () => call<Conversation[]>('GET', '/api/conversations'),
  documentConversation: (document: string) => call<Conversation>('GET', path`/api/documents/${document}/conversation`),
  createChannel: (workspace: string, name: string, isPrivate: boolean) =>
    call<Conversation>('POST', path`/api/workspaces/${workspace}/channels`, { name, private: isPrivate }),
  createDirect: (participants: string[]) => call<Conversation>('POST', '/api/conversations/direct', { participants }),
  /** The `limit` messages just before `beforeSeq` (the latest ones without it), ascending. */
  messagesBefore: (conversation: string, beforeSeq: number | null, limit: number) =>
    call<ChatMessage[]>('GET', path`/api/conversations/${conversation}/messages` +
      `?limit=${limit}${beforeSeq === null ? '' : `&before_seq=${beforeSeq}`}`),
  acceptInvitation: async (secret: string, display_name?: string, password?: string) =>
    useSession(await call<Session>('POST', path`/api/invitations/${secret}/accept`, { display_name, password })) as Session
}
