// Every word of the interface, in one place: the page's fixed text (index.html names its
// strings with `data-i18n` attributes, filled by `translatePage` at startup) and everything the
// views build. French is the interface's language by default, English the other one (chosen in
// the header, kept in this browser); strings that take values are functions, so that each
// language can order the words its own way. The English catalogue has the French one's type: a
// key missing or added in either fails the build. Messages the server words itself are shown
// as it sends them.

const plural = (n: number, one: string, many: string) => `${n} ${n > 1 ? many : one}`
/** English counts: « 1 reply », « 0 replies ». */
const pluralEn = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`

const fr = {
  common: {
    required: 'Ce champ est obligatoire.',
    /** The language switch in the header. */
    language: 'Langue',
    /** Between a label and what it introduces (French typography puts a space before it). */
    colon: ' : '
  },

  // ---- the page around the views (index.html: `data-i18n` attributes) -------------------------
  page: {
    skip: 'Aller au contenu',
    loading: 'Chargement…',
    signOut: 'Se déconnecter',
    allDocuments: '← Tous les documents',
    sessionEnded: 'Votre session a pris fin : reconnectez-vous.'
  },

  /** Roles, in lists and selects. */
  roles: {
    owner: 'propriétaire',
    validator: 'validation',
    editor: 'édition',
    commenter: 'commentaire',
    reader: 'lecture'
  },

  people: {
    /** External partners are marked wherever a name shows. */
    external: (name: string) => `${name} (externe)`,
    anonymous: 'Anonyme',
    you: '(vous)',
    /** A badge's counts, spelled out for screen readers after the number shown. */
    unread: (unread: number, mentions: number) =>
      ` (${plural(unread, 'non lu', 'non lus')}${mentions > 0 ? `, dont ${plural(mentions, 'mention', 'mentions')}` : ''})`
  },

  /** An API refusal in a sentence, by its code (the server's own message is kept where shown). */
  errors: {
    unexpected: 'Erreur inattendue.',
    network: 'Le serveur est injoignable. Vérifiez la connexion et réessayez.',
    unauthenticated: 'Votre session a expiré : reconnectez-vous.',
    forbidden: 'Vous n’avez pas le droit de faire cela.',
    notFound: 'Introuvable, ou vous n’y avez pas accès.',
    rateLimited: 'Trop de tentatives : réessayez dans une minute.',
    notConfigured: 'Ce service n’est pas configuré sur ce serveur.',
    unavailable: 'Service momentanément indisponible : réessayez plus tard.',
    badRequest: (reason: string) => `Demande refusée (${reason}).`,
    conflict: (reason: string) => `Impossible : ${reason}.`,
    server: 'Erreur du serveur : réessayez plus tard.'
  },

  // ---- signing in, and accepting an invitation -----------------------------------------------
  signIn: {
    title: 'Connexion',
    email: 'Adresse e-mail',
    password: 'Mot de passe',
    submit: 'Se connecter',
    or: 'ou',
    oidc: 'Se connecter avec ProConnect / OpenID Connect',
    refused: 'Adresse e-mail ou mot de passe incorrect.'
  },

  invitation: {
    title: 'Invitation',
    name: 'Votre nom',
    password: 'Choisissez un mot de passe',
    passwordHint: 'Au moins 10 caractères.',
    accept: 'Accepter l’invitation',
    summary: (email: string, toDocument: boolean, role: string, date: string) =>
      `Vous êtes invité·e, avec l’adresse ${email}, à rejoindre ${toDocument ? 'un document' : 'un espace de travail'} de Relais ` +
      `avec le rôle «\u00a0${role}\u00a0», jusqu’au ${date}.`,
    newAccount: ' Choisissez votre nom et un mot de passe pour créer votre compte.',
    notFound: 'Cette invitation est introuvable : vérifiez le lien reçu.',
    invalid: 'Cette invitation n’est plus valable (déjà acceptée, retirée ou expirée).',
    conflict: 'Cette invitation n’est plus valable, ou un compte existe déjà pour cette adresse : ' +
      'connectez-vous d’abord, puis rouvrez le lien.',
    otherAddress: 'Cette invitation est destinée à une autre adresse e-mail.',
    accepted: 'Invitation acceptée : bienvenue !'
  },

  // ---- the home view ---------------------------------------------------------------------------
  home: {
    title: 'Vos espaces de travail',
    organisation: 'Organisation',
    newWorkspace: 'Nouvel espace de travail',
    createWorkspace: 'Créer l’espace',
    workspaceCreated: (name: string) => `Espace de travail «\u00a0${name}\u00a0» créé.`,
    noWorkspace: 'Aucun espace de travail pour l’instant.',
    shared: 'Partagés avec moi',
    noDocument: 'Aucun document.',
    documentsOf: (workspace: string) => `Documents de ${workspace}`,
    newDocument: 'Nouveau document',
    createDocument: 'Créer le document',
    members: (n: number) => `Membres (${n})`,
    invite: 'Inviter un partenaire'
  },

  // ---- the document view -----------------------------------------------------------------------
  editor: {
    textLabel: 'Texte partagé',
    readOnly: 'Lecture seule : vous pouvez lire ce document, pas le modifier.',
    people: 'Personnes présentes',
    discussion: 'Discussion',
    discussionPanel: 'Discussion du document',
    discussionUnavailable: (reason: string) => `Discussion indisponible. ${reason}`,
    notFound: 'Ce document est introuvable, ou vous n’y avez pas accès.',
    accessRemoved: 'Accès retiré ou refusé.',
    connectionRefused: 'La connexion au document a été refusée.'
  },

  /** The formatting toolbar: each button's name, and the glyph it shows (part of its name if text). */
  toolbar: {
    label: 'Mise en forme',
    heading: (level: number) => `Titre de niveau ${level}`,
    headingText: (level: number) => `T${level}`,
    bold: 'Gras',
    boldText: 'G',
    italic: 'Italique',
    italicText: 'I',
    underline: 'Souligné',
    underlineText: 'S',
    link: 'Lien',
    linkPrompt: 'Adresse du lien (https://…)',
    bulletList: 'Liste à puces',
    orderedList: 'Liste numérotée',
    taskList: 'Liste de tâches',
    quote: 'Citation',
    table: 'Insérer un tableau',
    actionText: '✓ Action',
    templateText: 'CR',
    undo: 'Annuler',
    redo: 'Rétablir'
  },

  // ---- the Messages view -----------------------------------------------------------------------
  messages: {
    title: 'Messages',
    conversations: 'Conversations',
    channels: 'Canaux',
    noChannel: 'Aucun canal.',
    directs: 'Conversations directes',
    noDirect: 'Aucune conversation directe.',
    documents: 'Discussions de documents',
    noDocument: 'Aucune discussion de document.',
    channelTitle: (name: string | null) => `# ${name ?? 'canal'}`,
    alone: 'Vous seul·e',
    documentDiscussion: (title: string | null) => `Discussion : ${title ?? 'document'}`,
    private: ' (privé)',
    newChannel: 'Nouveau canal',
    workspace: 'Espace de travail',
    channelName: 'Nom du canal',
    privateChannel: 'Canal privé',
    privateHint: 'Un canal privé n’est visible que de ses membres ; sinon, tous les membres de l’espace le lisent.',
    createChannel: 'Créer le canal',
    channelCreated: (name: string) => `Canal «\u00a0${name}\u00a0» créé.`,
    newDirect: 'Nouvelle conversation directe',
    with: 'Avec',
    openDirect: 'Ouvrir la conversation',
    nobodyElse: 'Personne d’autre dans cet espace',
    membersUnavailable: 'Liste des membres non disponible',
    choose: 'Choisissez une conversation.',
    notFound: 'Cette conversation est introuvable, ou vous n’y avez pas accès.',
    openDocument: 'Ouvrir le document'
  },

  // ---- whether the server has this tab's edits (next to the document's title) -------------
  sync: {
    connecting: 'Connexion…',
    saved: 'Enregistré',
    /** Read-only: nothing of ours to save, but the text shown is the server's. */
    upToDate: 'À jour',
    sending: 'Modifications en cours d’envoi…',
    offline: 'Hors ligne — les modifications seront envoyées',
    offlineReadOnly: 'Hors ligne',
    reconnecting: 'Reconnexion…',
    denied: 'Accès refusé',
    signOutTitle: 'Se déconnecter sans envoyer les modifications ?',
    signOutText: 'Des modifications de ce document n’ont pas encore atteint le serveur. ' +
      'En vous déconnectant, vous les perdez : la copie gardée par ce navigateur est effacée.',
    signOutConfirm: 'Se déconnecter quand même',
    cancel: 'Annuler'
  },

  // ---- the documents on the home view ---------------------------------------------------------
  documents: {
    searchLabel: 'Rechercher un document',
    searchHint: 'Filtre les documents par titre.',
    found: (n: number) => n === 0 ? 'Aucun document ne correspond.' : `${plural(n, 'document trouvé', 'documents trouvés')}.`,
    noMatch: 'Aucun document ne correspond.',
    rename: 'Renommer',
    renameLabel: (title: string) => `Renommer « ${title} »`,
    renameTitle: (title: string) => `Renommer « ${title} »`,
    renameField: 'Nouveau titre',
    renameConfirm: 'Renommer',
    renamed: (title: string) => `Document renommé en « ${title} ».`,
    share: 'Partager',
    shareLabel: (title: string) => `Partager « ${title} »`,
    remove: 'Supprimer',
    removeLabel: (title: string) => `Supprimer « ${title} »`,
    removeTitle: (title: string) => `Supprimer « ${title} » ?`,
    removeText: 'Le document, son historique et sa discussion seront supprimés pour tout le monde. ' +
      'Cette action est définitive.',
    removeConfirm: 'Supprimer définitivement',
    removed: (title: string) => `Document « ${title} » supprimé.`,
    cancel: 'Annuler'
  },

  // ---- sharing a document ---------------------------------------------------------------------
  share: {
    title: (title: string) => `Partager « ${title} »`,
    membersTitle: 'Accès propres à ce document',
    membersHint: 'Les membres de l’espace de travail ont aussi accès au document, avec leur rôle dans l’espace.',
    noMembers: 'Personne n’a d’accès propre à ce document.',
    loading: 'Chargement des accès…',
    roleOf: (name: string) => `Rôle de ${name}`,
    until: (date: string) => `jusqu’au ${date}`,
    expired: 'accès expiré',
    removeMember: 'Retirer',
    removeMemberLabel: (name: string) => `Retirer l’accès de ${name}`,
    roleChanged: (name: string, role: string) => `${name} : rôle « ${role} ».`,
    memberRemoved: (name: string) => `Accès de ${name} retiré.`,
    inviteTitle: 'Inviter un partenaire externe',
    email: 'Adresse e-mail du partenaire',
    role: 'Rôle',
    expiry: 'Accès jusqu’au (inclus)',
    futureExpiry: 'Choisissez une date d’expiration à venir.',
    invite: 'Créer l’invitation',
    linkLabel: (email: string, role: string, date: string) =>
      `Lien à transmettre à ${email} (rôle ${role}, jusqu’au ${date}) :`,
    copy: 'Copier le lien',
    copied: 'Lien copié.',
    copyFailed: 'Copie impossible : sélectionnez le lien et copiez-le.',
    close: 'Fermer'
  },

  // ---- history panel ----------------------------------------------------------------------
  history: {
    toggle: 'Historique',
    panel: 'Historique du document',
    title: 'Historique',
    nameLabel: 'Nom de la version',
    nameHint: 'Par exemple « Avant le comité de pilotage ».',
    nameSubmit: 'Nommer une version',
    named: (name: string, number: number) => `Version ${number} « ${name} » enregistrée.`,
    compareTitle: 'Comparer deux versions',
    compareFrom: 'Version de départ',
    compareTo: 'Comparée à',
    compareSubmit: 'Comparer',
    current: 'Version actuelle',
    timeline: 'Versions',
    empty: 'Aucune version pour l’instant : elles sont prises automatiquement pendant l’écriture, ou nommées ci-dessus.',
    older: 'Plus anciennes',
    loading: 'Chargement de l’historique…',
    number: (n: number) => `Version ${n}`,
    auto: 'Version automatique',
    kind: {
      auto: 'Version automatique',
      named: 'Version nommée',
      restore: 'Restauration',
      submitted: 'Soumise pour validation'
    } as Record<string, string>,
    by: (names: string) => `Par ${names}`,
    nobody: 'Auteur non enregistré',
    sealed: 'Validée',
    sealedTitle: (validator: string, date: string) => `Validée par ${validator} le ${date}`,
    open: 'Ouvrir',
    openLabel: (n: number) => `Ouvrir la version ${n}`,
    changes: 'Qui a changé quoi',
    changesLabel: (n: number) => `Qui a changé quoi dans la version ${n}`,
    compareLive: 'Comparer à l’actuelle',
    compareLiveLabel: (n: number) => `Comparer à l’actuelle la version ${n}`,
    restore: 'Restaurer',
    restoreLabel: (n: number) => `Restaurer la version ${n}`,
    export: 'Exporter',
    exportLabel: (n: number, format: string) => `Exporter la version ${n} en ${format}`,
    close: 'Fermer',
    closeLabel: 'Fermer l’affichage et revenir à l’historique',
    versionTitle: (n: number, name: string) => `Version ${n} — ${name}`,
    readOnlyNote: 'Lecture seule : cette version ne peut pas être modifiée.',
    compareHeading: (from: string, to: string) => `Comparaison : ${from} → ${to}`,
    summary: (inserted: number, deleted: number, paragraphs: number) =>
      `${plural(inserted, 'caractère ajouté', 'caractères ajoutés')}, ` +
      `${plural(deleted, 'caractère supprimé', 'caractères supprimés')}, ` +
      `${plural(paragraphs, 'paragraphe modifié', 'paragraphes modifiés')}.`,
    noDifference: 'Aucune différence.',
    onlyChanges: 'N’afficher que les paragraphes modifiés',
    insertedPrefix: 'Ajout : ',
    deletedPrefix: 'Suppression : ',
    paragraphInserted: 'Paragraphe ajouté',
    paragraphDeleted: 'Paragraphe supprimé',
    paragraphModified: 'Paragraphe modifié',
    changesHeading: (n: number) => `Qui a changé quoi — version ${n}`,
    changesSince: (previous: number | null) =>
      previous === null ? 'Depuis le début du document.' : `Depuis la version ${previous}.`,
    authorInserted: (chars: number) => plural(chars, 'caractère ajouté', 'caractères ajoutés'),
    unknownAuthor: (clientId: number) => `Auteur inconnu (client ${clientId})`,
    noAuthors: 'Aucun ajout de texte dans cette version.',
    deletionsNote: 'Les suppressions ne sont pas attribuées : elles figurent dans le détail ci-dessous.',
    restoreTitle: (n: number) => `Restaurer la version ${n} ?`,
    restoreText: 'Le texte actuel sera remplacé par celui de cette version, pour tout le monde. ' +
      'Rien n’est effacé de l’historique : l’état actuel reste disponible dans une version.',
    restoreConfirm: 'Restaurer',
    restored: (from: number, version: number) => `Version ${from} restaurée (nouvelle version ${version}).`,
    restoreFrozen: 'Impossible de restaurer pendant la validation du document.',
    cancel: 'Annuler',
    unavailable: 'Historique indisponible.',
    sealHeading: 'Sceau de validation',
    /** A version with its name, in a comparison's heading. */
    quoted: (label: string, name: string) => `${label} « ${name} »`
  },

  // ---- rendering of a version's content ------------------------------------------------------
  content: {
    empty: 'Document vide.',
    done: 'fait',
    todo: 'à faire',
    action: 'Action',
    actionDone: 'Action faite',
    actionOpen: 'Action à faire',
    assignee: (name: string) => `Responsable : ${name}`,
    due: (date: string) => `Échéance : ${date}`,
    noAssignee: 'sans responsable',
    unsafeLink: 'lien non affiché'
  },

  // ---- validation workflow ------------------------------------------------------------------
  review: {
    region: 'Validation',
    state: {
      draft: 'Brouillon',
      submitted: 'Soumis pour validation',
      approved: 'Validé',
      rejected: 'Rejeté'
    } as Record<string, string>,
    published: 'Validé et publié',
    stateAnnounce: (label: string) => `État du document : ${label}.`,
    frozenBanner: 'Document soumis pour validation — modifications suspendues',
    submit: 'Soumettre pour validation',
    submitTitle: 'Soumettre pour validation',
    submitText: 'Le document sera figé jusqu’à la décision d’un validateur : personne ne pourra le modifier entre-temps.',
    noteLabel: 'Note pour le validateur (facultative)',
    submitConfirm: 'Soumettre',
    submitted: 'Document soumis pour validation.',
    approve: 'Approuver',
    reject: 'Rejeter',
    approveTitle: 'Approuver la version soumise',
    approveText: 'La version soumise sera scellée : son contenu ne pourra plus changer. L’édition reprendra.',
    rejectTitle: 'Rejeter la version soumise',
    rejectText: 'Expliquez ce qui doit changer ; l’édition reprendra.',
    commentLabel: 'Commentaire',
    commentRequired: 'Commentaire (obligatoire)',
    approved: 'Version approuvée et scellée.',
    rejected: 'Version rejetée.',
    publish: 'Publier la version validée',
    unpublish: 'Retirer la publication',
    unpublishTitle: 'Retirer la publication ?',
    unpublishText: 'La page publique ne sera plus accessible.',
    publishedAt: (n: number, date: string, name: string) => `Version ${n} publiée le ${date} par ${name} :`,
    publishedNow: 'Version validée publiée.',
    unpublished: 'Publication retirée.',
    submittedBy: (name: string, date: string, n: number) => `Version ${n} soumise par ${name} le ${date}.`,
    note: (note: string) => `Note : ${note}`,
    rejectedBy: (name: string, date: string, n: number) => `Version ${n} rejetée par ${name} le ${date}.`,
    comment: (comment: string) => `Commentaire : ${comment}`,
    seal: (n: number) => `Sceau de la version ${n}`,
    sealValidator: 'Validée par',
    sealDate: 'Le',
    sealComment: 'Commentaire',
    sealHash: 'Empreinte SHA-256',
    copyHash: 'Copier l’empreinte',
    copyHashLabel: 'Copier l’empreinte SHA-256 complète',
    copied: 'Empreinte copiée.',
    copyFailed: 'Copie impossible : sélectionnez l’empreinte affichée en infobulle.',
    conflict: 'Impossible dans l’état actuel du document : la page a été mise à jour.',
    refusedEdit: 'Modification refusée : le document est soumis pour validation.',
    reloaded: 'Édition rouverte : le document a été rechargé, sans les modifications refusées pendant la validation.'
  },

  // ---- chat: a conversation, its threads, attachments, edits -------------------------------
  chat: {
    older: 'Afficher les messages précédents',
    empty: 'Aucun message pour l’instant.',
    composer: 'Écrire un message',
    inputLabel: 'Votre message',
    hint: 'Entrée pour envoyer, Maj+Entrée pour aller à la ligne. Mise en forme : **gras**, *italique*, listes.',
    send: 'Envoyer',
    readOnly: 'Vous pouvez lire cette discussion mais pas y écrire.',
    connection: {
      connecting: 'Connexion à la discussion…',
      open: '',
      offline: 'Discussion hors ligne : nouvelle tentative bientôt. Vos messages partiront à la reconnexion.',
      ended: 'Discussion déconnectée.'
    },
    /** A refusal on the chat connection, by the API's code. */
    error: (code: string): string => {
      switch (code) {
        case 'rate_limited': return 'Trop de messages à la suite : attendez un peu avant d’envoyer le suivant.'
        case 'too_large': return 'Message trop long : raccourcissez-le ou envoyez-le en plusieurs fois.'
        case 'forbidden': return 'Vous ne pouvez pas faire cela dans cette discussion.'
        case 'not_found': return 'Discussion, message ou fichier introuvable, ou vous n’y avez plus accès.'
        case 'bad_request': return 'Message refusé par le serveur (vide ou caractères non permis).'
        case 'unavailable': return 'Discussion momentanément indisponible : réessayez plus tard.'
        case 'unauthenticated': return 'Votre session a expiré : reconnectez-vous.'
        default: return 'Erreur du serveur : réessayez plus tard.'
      }
    },
    lostAccess: 'Vous n’avez plus accès à cette discussion.',
    offlineRetry: 'Discussion hors ligne : réessayez dans un instant.',
    olderFailed: (reason: string) => `Impossible de charger les messages précédents. ${reason}`,
    sending: 'envoi en cours…',
    sent: 'envoyé',
    notSent: (reason: string) => `non envoyé : ${reason}`,
    takeBack: 'Reprendre le texte',
    retry: 'Réessayer',
    abandon: 'Abandonner',
    edited: '(modifié)',
    deleted: 'Message supprimé',
    reactionPeople: (count: number, mine: boolean) => `${plural(count, 'personne', 'personnes')}${mine ? ', dont vous' : ''}`,
    reactionButton: (emoji: string, people: string, mine: boolean) =>
      `Réaction ${emoji} : ${people}. ${mine ? 'Retirer la vôtre' : 'Ajouter la vôtre'}`,
    reactionText: (emoji: string, people: string) => `Réaction ${emoji} : ${people}`,
    reactWith: (emoji: string) => `Réagir avec ${emoji}`,
    typingOne: (name: string) => `${name} écrit…`,
    typingTwo: (first: string, second: string) => `${first} et ${second} écrivent…`,
    typingMany: 'Plusieurs personnes écrivent…',
    actions: (name: string) => `Actions sur le message de ${name}`,
    // Threads.
    reply: 'Répondre',
    replyingTo: (name: string, excerpt: string) => `Réponse à ${name} : « ${excerpt} »`,
    cancelReply: 'Annuler la réponse',
    inReplyTo: (name: string) => `En réponse à ${name}`,
    inReplyToOlder: 'En réponse à un message précédent',
    inReplyToDeleted: 'En réponse à un message supprimé',
    replies: (n: number) => plural(n, 'réponse', 'réponses'),
    lastReply: ' (aller à la dernière)',
    noExcerpt: 'fichier joint',
    // Attachments.
    attach: 'Joindre un fichier',
    attachments: 'Pièces jointes',
    pendingFiles: 'Fichiers joints au prochain message',
    uploading: (name: string) => `Envoi de « ${name} »…`,
    uploaded: (name: string) => `« ${name} » joint au message.`,
    removeFile: 'Retirer',
    removeFileLabel: (name: string) => `Retirer « ${name} »`,
    uploadFailed: (name: string, reason: string) => `« ${name} » n’a pas pu être joint : ${reason}`,
    fileTooLarge: (limit: string | null) => limit === null
      ? 'le fichier dépasse la taille permise par le serveur.'
      : `le fichier dépasse la taille permise par le serveur (${limit}).`,
    fileTypeRefused: (type: string) => type === 'application/octet-stream'
      ? 'ce type de fichier n’est pas accepté par le serveur.'
      : `les fichiers de type « ${type} » ne sont pas acceptés par le serveur.`,
    tooManyFiles: 'Au plus 10 fichiers par message.',
    waitForUpload: 'Attendez la fin de l’envoi des fichiers.',
    // Editing and deleting one's own messages.
    edit: 'Modifier',
    editLabel: 'Modifier le message',
    editHint: 'Entrée pour enregistrer, Échap pour annuler.',
    save: 'Enregistrer',
    saving: 'Enregistrement…',
    cancel: 'Annuler',
    emptyEdit: 'Un message ne peut pas être vide : supprimez-le plutôt.',
    remove: 'Supprimer',
    removeTitle: 'Supprimer ce message ?',
    removeText: 'Il sera remplacé par « Message supprimé » pour tout le monde.',
    removeConfirm: 'Supprimer le message'
  },

  // ---- meeting minutes and action items -------------------------------------------------------
  minutes: {
    newOption: 'Nouveau compte rendu (modèle de réunion)',
    templateButton: 'Modèle de compte rendu',
    addAction: 'Ajouter une action',
    headings: ['Date', 'Participants', 'Ordre du jour', 'Décisions', 'Actions'] as readonly [string, string, string, string, string],
    actionLabel: 'Action',
    actionDone: 'Action faite',
    assignee: 'Responsable',
    due: 'Échéance',
    placeholder: 'Action à mener…',
    checkboxLabel: (text: string, done: boolean) => `${done ? 'Action faite' : 'Action à faire'} : ${text || 'action sans texte'}`,
    taskLabel: (text: string, checked: boolean) => `${checked ? 'Tâche faite' : 'Tâche à faire'} : ${text || 'tâche vide'}`,
    openActions: 'Actions en cours',
    noActions: 'Aucune action en cours.',
    actionsUnavailable: 'Liste des actions indisponible.',
    actionLine: (assignee: string, due: string | null) =>
      [assignee ? `Responsable : ${assignee}` : 'Sans responsable', due ? `échéance : ${due}` : 'sans échéance'].join(', '),
    overdue: 'en retard',
    inDocument: 'Dans'
  }
}

export type Catalogue = typeof fr

const en: Catalogue = {
  common: {
    required: 'This field is required.',
    language: 'Language',
    colon: ': '
  },

  page: {
    skip: 'Skip to content',
    loading: 'Loading…',
    signOut: 'Sign out',
    allDocuments: '← All documents',
    sessionEnded: 'Your session has ended: sign in again.'
  },

  roles: {
    owner: 'owner',
    validator: 'validator',
    editor: 'editor',
    commenter: 'commenter',
    reader: 'reader'
  },

  people: {
    external: (name: string) => `${name} (external)`,
    anonymous: 'Anonymous',
    you: '(you)',
    unread: (unread: number, mentions: number) =>
      ` (${unread} unread${mentions > 0 ? `, including ${pluralEn(mentions, 'mention', 'mentions')}` : ''})`
  },

  errors: {
    unexpected: 'Unexpected error.',
    network: 'The server cannot be reached. Check the connection and try again.',
    unauthenticated: 'Your session has expired: sign in again.',
    forbidden: 'You are not allowed to do that.',
    notFound: 'Not found, or you do not have access to it.',
    rateLimited: 'Too many attempts: try again in a minute.',
    notConfigured: 'This service is not configured on this server.',
    unavailable: 'Service temporarily unavailable: try again later.',
    badRequest: (reason: string) => `Request refused (${reason}).`,
    conflict: (reason: string) => `Not possible: ${reason}.`,
    server: 'Server error: try again later.'
  },

  signIn: {
    title: 'Sign in',
    email: 'E-mail address',
    password: 'Password',
    submit: 'Sign in',
    or: 'or',
    oidc: 'Sign in with ProConnect / OpenID Connect',
    refused: 'Wrong e-mail address or password.'
  },

  invitation: {
    title: 'Invitation',
    name: 'Your name',
    password: 'Choose a password',
    passwordHint: 'At least 10 characters.',
    accept: 'Accept the invitation',
    summary: (email: string, toDocument: boolean, role: string, date: string) =>
      `You are invited, with the address ${email}, to join ${toDocument ? 'a document' : 'a workspace'} on Relais ` +
      `with the role “${role}”, until ${date}.`,
    newAccount: ' Choose your name and a password to create your account.',
    notFound: 'This invitation cannot be found: check the link you received.',
    invalid: 'This invitation is no longer valid (already accepted, withdrawn or expired).',
    conflict: 'This invitation is no longer valid, or an account already exists for this address: ' +
      'sign in first, then open the link again.',
    otherAddress: 'This invitation is meant for another e-mail address.',
    accepted: 'Invitation accepted: welcome!'
  },

  home: {
    title: 'Your workspaces',
    organisation: 'Organisation',
    newWorkspace: 'New workspace',
    createWorkspace: 'Create the workspace',
    workspaceCreated: (name: string) => `Workspace “${name}” created.`,
    noWorkspace: 'No workspace yet.',
    shared: 'Shared with me',
    noDocument: 'No document.',
    documentsOf: (workspace: string) => `Documents of ${workspace}`,
    newDocument: 'New document',
    createDocument: 'Create the document',
    members: (n: number) => `Members (${n})`,
    invite: 'Invite a partner'
  },

  editor: {
    textLabel: 'Shared text',
    readOnly: 'Read-only: you can read this document, not change it.',
    people: 'People here',
    discussion: 'Discussion',
    discussionPanel: 'Document discussion',
    discussionUnavailable: (reason: string) => `Discussion unavailable. ${reason}`,
    notFound: 'This document cannot be found, or you do not have access to it.',
    accessRemoved: 'Access removed or refused.',
    connectionRefused: 'The connection to the document was refused.'
  },

  toolbar: {
    label: 'Formatting',
    heading: (level: number) => `Heading level ${level}`,
    headingText: (level: number) => `H${level}`,
    bold: 'Bold',
    boldText: 'B',
    italic: 'Italic',
    italicText: 'I',
    underline: 'Underline',
    underlineText: 'U',
    link: 'Link',
    linkPrompt: 'Link address (https://…)',
    bulletList: 'Bulleted list',
    orderedList: 'Numbered list',
    taskList: 'Task list',
    quote: 'Quote',
    table: 'Insert a table',
    actionText: '✓ Action',
    templateText: 'MN',
    undo: 'Undo',
    redo: 'Redo'
  },

  messages: {
    title: 'Messages',
    conversations: 'Conversations',
    channels: 'Channels',
    noChannel: 'No channel.',
    directs: 'Direct conversations',
    noDirect: 'No direct conversation.',
    documents: 'Document discussions',
    noDocument: 'No document discussion.',
    channelTitle: (name: string | null) => `# ${name ?? 'channel'}`,
    alone: 'Only you',
    documentDiscussion: (title: string | null) => `Discussion: ${title ?? 'document'}`,
    private: ' (private)',
    newChannel: 'New channel',
    workspace: 'Workspace',
    channelName: 'Channel name',
    privateChannel: 'Private channel',
    privateHint: 'A private channel is visible to its members only; otherwise, every member of the workspace reads it.',
    createChannel: 'Create the channel',
    channelCreated: (name: string) => `Channel “${name}” created.`,
    newDirect: 'New direct conversation',
    with: 'With',
    openDirect: 'Open the conversation',
    nobodyElse: 'Nobody else in this workspace',
    membersUnavailable: 'Member list unavailable',
    choose: 'Choose a conversation.',
    notFound: 'This conversation cannot be found, or you do not have access to it.',
    openDocument: 'Open the document'
  },

  sync: {
    connecting: 'Connecting…',
    saved: 'Saved',
    upToDate: 'Up to date',
    sending: 'Sending changes…',
    offline: 'Offline — changes will be sent',
    offlineReadOnly: 'Offline',
    reconnecting: 'Reconnecting…',
    denied: 'Access denied',
    signOutTitle: 'Sign out without sending the changes?',
    signOutText: 'Changes to this document have not reached the server yet. ' +
      'If you sign out, they are lost: the copy kept by this browser is deleted.',
    signOutConfirm: 'Sign out anyway',
    cancel: 'Cancel'
  },

  documents: {
    searchLabel: 'Search for a document',
    searchHint: 'Filters the documents by title.',
    found: (n: number) => n === 0 ? 'No document matches.' : `${pluralEn(n, 'document found', 'documents found')}.`,
    noMatch: 'No document matches.',
    rename: 'Rename',
    renameLabel: (title: string) => `Rename “${title}”`,
    renameTitle: (title: string) => `Rename “${title}”`,
    renameField: 'New title',
    renameConfirm: 'Rename',
    renamed: (title: string) => `Document renamed to “${title}”.`,
    share: 'Share',
    shareLabel: (title: string) => `Share “${title}”`,
    remove: 'Delete',
    removeLabel: (title: string) => `Delete “${title}”`,
    removeTitle: (title: string) => `Delete “${title}”?`,
    removeText: 'The document, its history and its discussion will be deleted for everyone. ' +
      'This cannot be undone.',
    removeConfirm: 'Delete permanently',
    removed: (title: string) => `Document “${title}” deleted.`,
    cancel: 'Cancel'
  },

  share: {
    title: (title: string) => `Share “${title}”`,
    membersTitle: 'Access to this document only',
    membersHint: 'Members of the workspace also have access to the document, with their role in the workspace.',
    noMembers: 'Nobody has access to this document only.',
    loading: 'Loading access…',
    roleOf: (name: string) => `Role of ${name}`,
    until: (date: string) => `until ${date}`,
    expired: 'access expired',
    removeMember: 'Remove',
    removeMemberLabel: (name: string) => `Remove the access of ${name}`,
    roleChanged: (name: string, role: string) => `${name}: role “${role}”.`,
    memberRemoved: (name: string) => `Access of ${name} removed.`,
    inviteTitle: 'Invite an external partner',
    email: 'Partner’s e-mail address',
    role: 'Role',
    expiry: 'Access until (included)',
    futureExpiry: 'Choose an expiry date in the future.',
    invite: 'Create the invitation',
    linkLabel: (email: string, role: string, date: string) =>
      `Link to send to ${email} (role ${role}, until ${date}):`,
    copy: 'Copy the link',
    copied: 'Link copied.',
    copyFailed: 'Could not copy: select the link and copy it.',
    close: 'Close'
  },

  history: {
    toggle: 'History',
    panel: 'Document history',
    title: 'History',
    nameLabel: 'Version name',
    nameHint: 'For example “Before the steering committee”.',
    nameSubmit: 'Name a version',
    named: (name: string, number: number) => `Version ${number} “${name}” saved.`,
    compareTitle: 'Compare two versions',
    compareFrom: 'From version',
    compareTo: 'Compared with',
    compareSubmit: 'Compare',
    current: 'Current version',
    timeline: 'Versions',
    empty: 'No version yet: they are taken automatically while writing, or named above.',
    older: 'Older',
    loading: 'Loading the history…',
    number: (n: number) => `Version ${n}`,
    auto: 'Automatic version',
    kind: {
      auto: 'Automatic version',
      named: 'Named version',
      restore: 'Restoration',
      submitted: 'Submitted for approval'
    } as Record<string, string>,
    by: (names: string) => `By ${names}`,
    nobody: 'Author not recorded',
    sealed: 'Approved',
    sealedTitle: (validator: string, date: string) => `Approved by ${validator} on ${date}`,
    open: 'Open',
    openLabel: (n: number) => `Open version ${n}`,
    changes: 'Who changed what',
    changesLabel: (n: number) => `Who changed what in version ${n}`,
    compareLive: 'Compare with current',
    compareLiveLabel: (n: number) => `Compare version ${n} with the current one`,
    restore: 'Restore',
    restoreLabel: (n: number) => `Restore version ${n}`,
    export: 'Export',
    exportLabel: (n: number, format: string) => `Export version ${n} as ${format}`,
    close: 'Close',
    closeLabel: 'Close and go back to the history',
    versionTitle: (n: number, name: string) => `Version ${n} — ${name}`,
    readOnlyNote: 'Read-only: this version cannot be changed.',
    compareHeading: (from: string, to: string) => `Comparison: ${from} → ${to}`,
    summary: (inserted: number, deleted: number, paragraphs: number) =>
      `${pluralEn(inserted, 'character added', 'characters added')}, ` +
      `${pluralEn(deleted, 'character deleted', 'characters deleted')}, ` +
      `${pluralEn(paragraphs, 'paragraph changed', 'paragraphs changed')}.`,
    noDifference: 'No difference.',
    onlyChanges: 'Show only the changed paragraphs',
    insertedPrefix: 'Added: ',
    deletedPrefix: 'Deleted: ',
    paragraphInserted: 'Paragraph added',
    paragraphDeleted: 'Paragraph deleted',
    paragraphModified: 'Paragraph changed',
    changesHeading: (n: number) => `Who changed what — version ${n}`,
    changesSince: (previous: number | null) =>
      previous === null ? 'Since the document began.' : `Since version ${previous}.`,
    authorInserted: (chars: number) => pluralEn(chars, 'character added', 'characters added'),
    unknownAuthor: (clientId: number) => `Unknown author (client ${clientId})`,
    noAuthors: 'No text added in this version.',
    deletionsNote: 'Deletions are not attributed: they are in the details below.',
    restoreTitle: (n: number) => `Restore version ${n}?`,
    restoreText: 'The current text will be replaced by this version’s, for everyone. ' +
      'Nothing is erased from the history: the current state stays available in a version.',
    restoreConfirm: 'Restore',
    restored: (from: number, version: number) => `Version ${from} restored (new version ${version}).`,
    restoreFrozen: 'Cannot restore while the document is under review.',
    cancel: 'Cancel',
    unavailable: 'History unavailable.',
    sealHeading: 'Approval seal',
    quoted: (label: string, name: string) => `${label} “${name}”`
  },

  content: {
    empty: 'Empty document.',
    done: 'done',
    todo: 'to do',
    action: 'Action',
    actionDone: 'Action done',
    actionOpen: 'Action to do',
    assignee: (name: string) => `Owner: ${name}`,
    due: (date: string) => `Due: ${date}`,
    noAssignee: 'no owner',
    unsafeLink: 'link not shown'
  },

  review: {
    region: 'Approval',
    state: {
      draft: 'Draft',
      submitted: 'Submitted for approval',
      approved: 'Approved',
      rejected: 'Rejected'
    } as Record<string, string>,
    published: 'Approved and published',
    stateAnnounce: (label: string) => `Document state: ${label}.`,
    frozenBanner: 'Document submitted for approval — editing suspended',
    submit: 'Submit for approval',
    submitTitle: 'Submit for approval',
    submitText: 'The document will be frozen until a validator decides: nobody can change it meanwhile.',
    noteLabel: 'Note for the validator (optional)',
    submitConfirm: 'Submit',
    submitted: 'Document submitted for approval.',
    approve: 'Approve',
    reject: 'Reject',
    approveTitle: 'Approve the submitted version',
    approveText: 'The submitted version will be sealed: its content can never change again. Editing will resume.',
    rejectTitle: 'Reject the submitted version',
    rejectText: 'Explain what must change; editing will resume.',
    commentLabel: 'Comment',
    commentRequired: 'Comment (required)',
    approved: 'Version approved and sealed.',
    rejected: 'Version rejected.',
    publish: 'Publish the approved version',
    unpublish: 'Withdraw the publication',
    unpublishTitle: 'Withdraw the publication?',
    unpublishText: 'The public page will no longer be available.',
    publishedAt: (n: number, date: string, name: string) => `Version ${n} published on ${date} by ${name}:`,
    publishedNow: 'Approved version published.',
    unpublished: 'Publication withdrawn.',
    submittedBy: (name: string, date: string, n: number) => `Version ${n} submitted by ${name} on ${date}.`,
    note: (note: string) => `Note: ${note}`,
    rejectedBy: (name: string, date: string, n: number) => `Version ${n} rejected by ${name} on ${date}.`,
    comment: (comment: string) => `Comment: ${comment}`,
    seal: (n: number) => `Seal of version ${n}`,
    sealValidator: 'Approved by',
    sealDate: 'On',
    sealComment: 'Comment',
    sealHash: 'SHA-256 fingerprint',
    copyHash: 'Copy the fingerprint',
    copyHashLabel: 'Copy the full SHA-256 fingerprint',
    copied: 'Fingerprint copied.',
    copyFailed: 'Could not copy: select the fingerprint shown in the tooltip.',
    conflict: 'Not possible in the document’s current state: the page has been updated.',
    refusedEdit: 'Change refused: the document is submitted for approval.',
    reloaded: 'Editing reopened: the document was reloaded, without the changes refused during the review.'
  },

  chat: {
    older: 'Show earlier messages',
    empty: 'No messages yet.',
    composer: 'Write a message',
    inputLabel: 'Your message',
    hint: 'Enter to send, Shift+Enter for a new line. Formatting: **bold**, *italic*, lists.',
    send: 'Send',
    readOnly: 'You can read this discussion but not write in it.',
    connection: {
      connecting: 'Connecting to the discussion…',
      open: '',
      offline: 'Discussion offline: retrying soon. Your messages will go once reconnected.',
      ended: 'Discussion disconnected.'
    },
    error: (code: string) => {
      switch (code) {
        case 'rate_limited': return 'Too many messages in a row: wait a little before sending the next one.'
        case 'too_large': return 'Message too long: shorten it or send it in several parts.'
        case 'forbidden': return 'You cannot do that in this discussion.'
        case 'not_found': return 'Discussion, message or file not found, or you no longer have access to it.'
        case 'bad_request': return 'Message refused by the server (empty or characters not allowed).'
        case 'unavailable': return 'Discussion temporarily unavailable: try again later.'
        case 'unauthenticated': return 'Your session has expired: sign in again.'
        default: return 'Server error: try again later.'
      }
    },
    lostAccess: 'You no longer have access to this discussion.',
    offlineRetry: 'Discussion offline: try again in a moment.',
    olderFailed: (reason: string) => `Could not load earlier messages. ${reason}`,
    sending: 'sending…',
    sent: 'sent',
    notSent: (reason: string) => `not sent: ${reason}`,
    takeBack: 'Take the text back',
    retry: 'Try again',
    abandon: 'Give up',
    edited: '(edited)',
    deleted: 'Message deleted',
    reactionPeople: (count: number, mine: boolean) => `${pluralEn(count, 'person', 'people')}${mine ? ', including you' : ''}`,
    reactionButton: (emoji: string, people: string, mine: boolean) =>
      `Reaction ${emoji}: ${people}. ${mine ? 'Remove yours' : 'Add yours'}`,
    reactionText: (emoji: string, people: string) => `Reaction ${emoji}: ${people}`,
    reactWith: (emoji: string) => `React with ${emoji}`,
    typingOne: (name: string) => `${name} is typing…`,
    typingTwo: (first: string, second: string) => `${first} and ${second} are typing…`,
    typingMany: 'Several people are typing…',
    actions: (name: string) => `Actions on the message of ${name}`,
    reply: 'Reply',
    replyingTo: (name: string, excerpt: string) => `Reply to ${name}: “${excerpt}”`,
    cancelReply: 'Cancel the reply',
    inReplyTo: (name: string) => `In reply to ${name}`,
    inReplyToOlder: 'In reply to an earlier message',
    inReplyToDeleted: 'In reply to a deleted message',
    replies: (n: number) => pluralEn(n, 'reply', 'replies'),
    lastReply: ' (go to the latest)',
    noExcerpt: 'attached file',
    attach: 'Attach a file',
    attachments: 'Attachments',
    pendingFiles: 'Files attached to the next message',
    uploading: (name: string) => `Uploading “${name}”…`,
    uploaded: (name: string) => `“${name}” attached to the message.`,
    removeFile: 'Remove',
    removeFileLabel: (name: string) => `Remove “${name}”`,
    uploadFailed: (name: string, reason: string) => `“${name}” could not be attached: ${reason}`,
    fileTooLarge: (limit: string | null) => limit === null
      ? 'the file is larger than the server allows.'
      : `the file is larger than the server allows (${limit}).`,
    fileTypeRefused: (type: string) => type === 'application/octet-stream'
      ? 'the server does not accept this type of file.'
      : `the server does not accept files of type “${type}”.`,
    tooManyFiles: 'At most 10 files per message.',
    waitForUpload: 'Wait until the files are uploaded.',
    edit: 'Edit',
    editLabel: 'Edit the message',
    editHint: 'Enter to save, Escape to cancel.',
    save: 'Save',
    saving: 'Saving…',
    cancel: 'Cancel',
    emptyEdit: 'A message cannot be empty: delete it instead.',
    remove: 'Delete',
    removeTitle: 'Delete this message?',
    removeText: 'It will be replaced by “Message deleted” for everyone.',
    removeConfirm: 'Delete the message'
  },

  minutes: {
    newOption: 'New meeting minutes (template)',
    templateButton: 'Minutes template',
    addAction: 'Add an action',
    headings: ['Date', 'Participants', 'Agenda', 'Decisions', 'Actions'],
    actionLabel: 'Action',
    actionDone: 'Action done',
    assignee: 'Owner',
    due: 'Due',
    placeholder: 'Action to take…',
    checkboxLabel: (text: string, done: boolean) => `${done ? 'Action done' : 'Action to do'}: ${text || 'action without text'}`,
    taskLabel: (text: string, checked: boolean) => `${checked ? 'Task done' : 'Task to do'}: ${text || 'empty task'}`,
    openActions: 'Open actions',
    noActions: 'No open action.',
    actionsUnavailable: 'Action list unavailable.',
    actionLine: (assignee: string, due: string | null) =>
      [assignee ? `Owner: ${assignee}` : 'No owner', due ? `due: ${due}` : 'no due date'].join(', '),
    overdue: 'overdue',
    inDocument: 'In'
  }
}

export type Language = 'fr' | 'en'

export const LANGUAGES: { code: Language, name: string }[] = [
  { code: 'fr', name: 'Français' },
  { code: 'en', name: 'English' }
]

const LANGUAGE_KEY = 'relais-language'

function storedLanguage(): Language {
  try {
    return localStorage.getItem(LANGUAGE_KEY) === 'en' ? 'en' : 'fr'
  } catch {
    // Storage may be refused (private browsing settings): French, then.
    return 'fr'
  }
}

/** The interface's language: French unless English was chosen in this browser. */
export const language: Language = storedLanguage()

/** The interface's wording. */
export const t: Catalogue = language === 'en' ? en : fr

/** The locale of dates and numbers. */
export const locale = language === 'en' ? 'en-GB' : 'fr-FR'

/** Keeps the choice in this browser; the page is then loaded again in that language. */
export function chooseLanguage(next: Language): void {
  try {
    localStorage.setItem(LANGUAGE_KEY, next)
  } catch {
    return
  }
  location.reload()
}

/** The catalogue's string at a dotted key (`signIn.title`), or undefined if there is none. */
function lookup(key: string): string | undefined {
  let value: unknown = t
  for (const part of key.split('.')) {
    if (value === null || typeof value !== 'object') return undefined
    value = (value as Record<string, unknown>)[part]
  }
  return typeof value === 'string' ? value : undefined
}

/**
 * Words the page's fixed HTML in the interface's language and sets its `lang`:
 * `data-i18n="key"` gives an element its text, `data-i18n-attr="aria-label:key title:key"`
 * its attributes. An unknown key leaves the element as it is and reports an uncaught error
 * (the browser tests fail on those), without stopping the page.
 */
export function translatePage(root: ParentNode = document): void {
  document.documentElement.lang = language
  const missing: string[] = []
  const wording = (key: string) => {
    const value = lookup(key)
    if (value === undefined) missing.push(key)
    return value
  }
  for (const element of root.querySelectorAll<HTMLElement>('[data-i18n]')) {
    const value = wording(element.dataset['i18n'] ?? '')
    if (value !== undefined) element.textContent = value
  }
  for (const element of root.querySelectorAll<HTMLElement>('[data-i18n-attr]')) {
    for (const pair of (element.dataset['i18nAttr'] ?? '').split(/\s+/).filter(Boolean)) {
      const separator = pair.indexOf(':')
      const value = wording(pair.slice(separator + 1))
      if (separator > 0 && value !== undefined) element.setAttribute(pair.slice(0, separator), value)
    }
  }
  if (missing.length > 0) {
    setTimeout(() => { throw new Error(`no wording for ${missing.join(', ')} in the ${language} catalogue`) })
  }
}
