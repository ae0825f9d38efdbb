// The wording of the version history, the validation workflow and the meeting minutes, in
// one place. French is the interface's language; strings that take values are functions, so
// that each language can order the words its own way.

const plural = (n: number, one: string, many: string) => `${n} ${n > 1 ? many : one}`

const fr = {
  common: {
    required: 'Ce champ est obligatoire.'
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
    sealHeading: 'Sceau de validation'
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

  // ---- meeting minutes and action items -------------------------------------------------------
  minutes: {
    newOption: 'Nouveau compte rendu (modèle de réunion)',
    templateButton: 'Modèle de compte rendu',
    addAction: 'Ajouter une action',
    headings: ['Date', 'Participants', 'Ordre du jour', 'Décisions', 'Actions'] as const,
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

/** The interface's wording. */
export const t: Catalogue = fr
