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

/** Someone named in a version or a review (`id` is absent for a non-user actor). */
export interface Person {
  id: string | null
  name: string
  external: boolean
}

export type VersionKind = 'auto' | 'named' | 'restore' | 'submitted'

/** A validator's approval of one exact version: it never changes again. */
export interface Seal {
  validator: Person
  sealed_at_ms: number
  comment: string
  sha256: string
}

export interface Version {
  number: number
  id: string
  kind: VersionKind
  name: string | null
  created_at_ms: number
  created_by: Person | null
  authors: Person[]
  upto_seq: number
  sha256: string
  size: number
  seal: Seal | null
}

export interface VersionPage {
  /** Newest first. */
  versions: Version[]
  next_before: number | null
}

export interface Marks {
  bold?: boolean
  italic?: boolean
  underline?: boolean
  strike?: boolean
  code?: boolean
  link?: string | null
}

export type Inline = { type: 'text', text: string, marks?: Marks } | { type: 'break' }

export interface ListItem {
  checked: boolean | null
  blocks: Block[]
}

export interface TableCell {
  header: boolean
  colspan: number
  rowspan: number
  blocks: Block[]
}

/** A block of a version's content, as the server reads it from the document. */
export type Block =
  | { type: 'heading', level: number, content: Inline[] }
  | { type: 'paragraph', content: Inline[] }
  | { type: 'bulletList', items: ListItem[] }
  | { type: 'orderedList', start: number, items: ListItem[] }
  | { type: 'taskList', items: ListItem[] }
  | { type: 'blockquote', blocks: Block[] }
  | { type: 'codeBlock', language: string | null, text: string }
  | { type: 'rule' }
  | { type: 'table', rows: { cells: TableCell[] }[] }
  | { type: 'action', assignee: string, due: string | null, status: 'open' | 'done', content: Inline[] }

export interface Content {
  blocks: Block[]
}

export interface VersionContent {
  version: Version
  content: Content
}

export interface DiffSegment {
  op: 'equal' | 'insert' | 'delete'
  text: string
}

export interface ParagraphDiff {
  change: 'equal' | 'inserted' | 'deleted' | 'modified'
  /** `heading1`…`heading6`, `paragraph`, `listItem`, `taskItem`, `tableCell`, `tableHeader`, `quote`, `code`, `action`, `rule`. */
  kind: string
  segments: DiffSegment[]
}

export interface DiffSummary {
  inserted_chars: number
  deleted_chars: number
  paragraphs_changed: number
}

export interface Comparison {
  from: Version
  /** Null when compared with the live document. */
  to: Version | null
  summary: DiffSummary
  paragraphs: ParagraphDiff[]
}

export interface AuthorChanges {
  person: Person | null
  client_id: number
  inserted_chars: number
  excerpts: string[]
}

export interface VersionChanges {
  version: Version
  previous: number | null
  authors: AuthorChanges[]
  summary: DiffSummary
  paragraphs: ParagraphDiff[]
}

export interface Restored {
  restored_from: Version
  version: Version
}

export type ReviewState = 'draft' | 'submitted' | 'approved' | 'rejected'

export interface Review {
  id: string
  version: number
  submitted_by: Person
  submitted_at_ms: number
  note: string
  decision: 'approved' | 'rejected' | null
  decided_by: Person | null
  decided_at_ms: number | null
  comment: string | null
}

export interface Publication {
  version: number
  published_at_ms: number
  published_by: Person
  url: string
}

export interface ReviewStatus {
  state: ReviewState
  /** Whether the document refuses edits (under review). */
  frozen: boolean
  /** Whether the caller may approve or reject (validators). */
  can_decide: boolean
  /** Newest first. */
  reviews: Review[]
  publication: Publication | null
}

export type ExportFormat = 'odt' | 'docx' | 'html' | 'md'

/** An action item of a workspace's meeting minutes. */
export interface ActionItem {
  document_id: string
  document_title: string
  assignee: string
  due: string | null
  status: 'open' | 'done'
  text: string
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

/** A body sent as it is (a file), with its own type, instead of JSON. */
interface RawBody {
  raw: Blob
  type: string
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (method !== 'GET') headers['X-CSRF-Token'] = csrfToken
  const raw = body instanceof Object && 'raw' in body ? body as RawBody : null
  if (raw !== null) headers['Content-Type'] = raw.type
  else if (body !== undefined) headers['Content-Type'] = 'application/json'
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers,
      body: raw !== null ? raw.raw : body === undefined ? null : JSON.stringify(body),
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
  renameDocument: (id: string, title: string) => call<DocumentInfo>('PATCH', path`/api/documents/${id}`, { title }),
  deleteDocument: (id: string) => call<void>('DELETE', path`/api/documents/${id}`),
  documentMembers: (id: string) => call<Member[]>('GET', path`/api/documents/${id}/members`),
  setDocumentMember: (id: string, user: string, role: Role, expires_at_ms: number | null) =>
    call<void>('PUT', path`/api/documents/${id}/members/${user}`, { role, expires_at_ms }),
  removeDocumentMember: (id: string, user: string) => call<void>('DELETE', path`/api/documents/${id}/members/${user}`),
  inviteToDocument: (id: string, email: string, role: Role, expires_at_ms: number) =>
    call<CreatedInvitation>('POST', path`/api/documents/${id}/invitations`, { email, role, expires_at_ms }),
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
  /** Uploads a file to attach to a message (413 over the size limit, 415 a refused type). */
  uploadAttachment: (conversation: string, file: File) =>
    call<Attachment>('POST', path`/api/conversations/${conversation}/attachments` + `?name=${encodeURIComponent(file.name)}`,
      { raw: file, type: file.type === '' ? 'application/octet-stream' : file.type } satisfies RawBody),
  acceptInvitation: async (secret: string, display_name?: string, password?: string) =>
    useSession(await call<Session>('POST', path`/api/invitations/${secret}/accept`, { display_name, password })) as Session,
  versions: (document: string, before: number | null, limit = 50) =>
    call<VersionPage>('GET', path`/api/documents/${document}/versions` + `?limit=${limit}${before === null ? '' : `&before=${before}`}`),
  nameVersion: (document: string, name: string) => call<Version>('POST', path`/api/documents/${document}/versions`, { name }),
  version: (document: string, number: number) =>
    call<VersionContent>('GET', path`/api/documents/${document}/versions/${String(number)}`),
  /** Compares version `from` with version `to`, or with the document as it is now (`live`). */
  compare: (document: string, from: number, to: number | 'live') =>
    call<Comparison>('GET', path`/api/documents/${document}/compare` + `?from=${from}&to=${to}`),
  versionChanges: (document: string, number: number) =>
    call<VersionChanges>('GET', path`/api/documents/${document}/versions/${String(number)}/changes`),
  restoreVersion: (document: string, number: number) =>
    call<Restored>('POST', path`/api/documents/${document}/versions/${String(number)}/restore`),
  /** A plain link: the browser downloads the file with the session cookie. */
  exportUrl: (document: string, number: number, format: ExportFormat) =>
    path`/api/documents/${document}/versions/${String(number)}/export` + `?format=${format}`,
  review: (document: string) => call<ReviewStatus>('GET', path`/api/documents/${document}/review`),
  submitReview: (document: string, note: string) =>
    call<ReviewStatus>('POST', path`/api/documents/${document}/review/submit`, { note }),
  approveReview: (document: string, comment: string) =>
    call<ReviewStatus>('POST', path`/api/documents/${document}/review/approve`, { comment }),
  rejectReview: (document: string, comment: string) =>
    call<ReviewStatus>('POST', path`/api/documents/${document}/review/reject`, { comment }),
  publish: (document: string) => call<Publication>('POST', path`/api/documents/${document}/publication`),
  unpublish: (document: string) => call<void>('DELETE', path`/api/documents/${document}/publication`),
  workspaceActions: (workspace: string, status: 'open' | 'done' | 'all' = 'open') =>
    call<ActionItem[]>('GET', path`/api/workspaces/${workspace}/actions` + `?status=${status}`)
}
