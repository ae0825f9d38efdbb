//! The chat store's conformance suite, run on both backends.
//!
//! As in `conformance.rs`, every scenario is an `async fn(Arc<Harness>)` that
//! `common::both_backends!` turns into `sqlite::<name>` and `postgres::<name>`, each on a
//! private database and object directory (see `common`).

// The scenarios are plain async functions called from generated tests, which clippy does not
// recognise as test code; unwrap is allowed in tests by the house rules. Expected values are
// written as array literals (`[id.clone()]`), which read better than `slice::from_ref`.
#![allow(clippy::unwrap_used, clippy::cloned_ref_to_slice_refs)]

mod common;

use std::sync::Arc;

use bytes::Bytes;
use futures_util::TryStreamExt as _;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, PutPayload};
use relais_storage::{
    Attachment, AttachmentId, Chat, Conversation, ConversationId, ConversationKind, Directory,
    DocumentId, DocumentInfo, Message, NewAttachment, NewConversation, NewMessage, StoreError,
    UserId, WorkspaceId,
};

use common::{Harness, document_id, is_not_found, new_user, workspace};

/// Both faces of one store instance.
struct Stores {
    directory: Arc<dyn Directory>,
    chat: Arc<dyn Chat>,
}

/// What this suite adds to the shared harness: both faces of a store.
impl Harness {
    /// A new store instance (its own pools) on this test's database and objects, as another
    /// server process would open it.
    async fn open(&self) -> Stores {
        let store = self.connect(Arc::clone(&self.objects)).await;
        Stores {
            directory: store.clone(),
            chat: store,
        }
    }
}

common::both_backends!(
    conversations_of_each_kind_are_created_and_found_again,
    members_are_added_and_removed,
    posts_get_dense_seqs_and_retries_return_the_first,
    failed_posts_store_nothing_and_use_no_seq,
    mentions_and_attachments_round_trip,
    attachments_are_used_once_by_their_uploader_only,
    history_is_paged_after_and_before,
    messages_are_edited_and_deleted,
    reactions_are_added_listed_and_removed,
    read_markers_and_unread_counts,
    search_is_accent_insensitive_and_restricted,
    search_takes_any_text_literally,
    attachment_blobs_are_checked_and_cleaned_up,
    concurrent_posts_from_two_stores_get_dense_seqs,
    concurrent_creations_find_one_conversation,
    ; postgres only: french_search_stems_words
);

async fn user(directory: &dyn Directory, email: &str) -> UserId {
    directory.create_user(new_user(email)).await.unwrap().id
}

async fn channel(
    chat: &dyn Chat,
    workspace: &WorkspaceId,
    name: &str,
    creator: &UserId,
) -> Conversation {
    chat.create_conversation(NewConversation::Channel {
        workspace: workspace.clone(),
        name: name.to_owned(),
        private: false,
        created_by: creator.clone(),
    })
    .await
    .unwrap()
}

/// A public channel in a new workspace, with two users: (channel, creator, other).
async fn setup(stores: &Stores) -> (Conversation, UserId, UserId) {
    let marie = user(stores.directory.as_ref(), "marie@mairie.fr").await;
    let paul = user(stores.directory.as_ref(), "paul@mairie.fr").await;
    let workspace = workspace(stores.directory.as_ref(), "Conseil").await;
    let general = channel(stores.chat.as_ref(), &workspace, "général", &marie).await;
    (general, marie, paul)
}

fn new_message(
    conversation: &Conversation,
    author: &UserId,
    client_id: &str,
    body: &str,
) -> NewMessage {
    NewMessage {
        conversation: conversation.id.clone(),
        author: author.clone(),
        client_id: client_id.to_owned(),
        body: body.to_owned(),
        reply_to_seq: None,
        mentions: Vec::new(),
        mentions_all: false,
        attachments: Vec::new(),
    }
}

async fn post(
    chat: &dyn Chat,
    conversation: &Conversation,
    author: &UserId,
    body: &str,
) -> Message {
    let client_id = uuid::Uuid::new_v4().to_string();
    let posted = chat
        .post_message(new_message(conversation, author, &client_id, body))
        .await
        .unwrap();
    assert!(posted.created);
    posted.message
}

async fn upload(
    chat: &dyn Chat,
    conversation: &Conversation,
    uploader: &UserId,
    bytes: &'static [u8],
) -> Attachment {
    chat.put_attachment(
        NewAttachment {
            conversation: conversation.id.clone(),
            uploaded_by: uploader.clone(),
            file_name: "compte-rendu.pdf".to_owned(),
            content_type: "application/pdf".to_owned(),
        },
        Bytes::from_static(bytes),
    )
    .await
    .unwrap()
}

async fn last_seq(chat: &dyn Chat, conversation: &Conversation) -> i64 {
    chat.conversation(&conversation.id)
        .await
        .unwrap()
        .unwrap()
        .last_seq
}

/// Waits until the clock has moved past the current millisecond, so that what comes next is
/// stored with a later time than what came before.
async fn next_millisecond() {
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    };
    let start = now_ms();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    while now_ms() <= start {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the clock does not move"
        );
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
}

fn seqs(messages: &[Message]) -> Vec<i64> {
    messages.iter().map(|message| message.seq).collect()
}

async fn object_keys(objects: &dyn ObjectStore) -> Vec<String> {
    let mut keys: Vec<String> = objects
        .list(Some(&Path::from("attachments")))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .unwrap();
    keys.sort();
    keys
}

async fn conversations_of_each_kind_are_created_and_found_again(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let (directory, chat) = (stores.directory.as_ref(), stores.chat.as_ref());
    let marie = user(directory, "marie@mairie.fr").await;
    let paul = user(directory, "paul@mairie.fr").await;
    let lea = user(directory, "lea@mairie.fr").await;
    let workspace = workspace(directory, "Conseil").await;

    // Channels: the creator is a member; listed by name, case-insensitively.
    let urbanisme = chat
        .create_conversation(NewConversation::Channel {
            workspace: workspace.clone(),
            name: "urbanisme".to_owned(),
            private: true,
            created_by: marie.clone(),
        })
        .await
        .unwrap();
    assert_eq!(urbanisme.kind, ConversationKind::Channel);
    assert_eq!(urbanisme.workspace.as_ref(), Some(&workspace));
    assert_eq!(urbanisme.name.as_deref(), Some("urbanisme"));
    assert!(urbanisme.private);
    assert_eq!(urbanisme.created_by.as_ref(), Some(&marie));
    assert_eq!(urbanisme.last_seq, 0);
    assert_eq!(
        chat.conversation(&urbanisme.id).await.unwrap(),
        Some(urbanisme.clone())
    );
    assert_eq!(
        chat.conversation_members(&urbanisme.id).await.unwrap(),
        [marie.clone()]
    );
    let budget = channel(chat, &workspace, "Budget", &paul).await;
    let names: Vec<String> = chat
        .workspace_channels(&workspace)
        .await
        .unwrap()
        .into_iter()
        .map(|channel| channel.name.unwrap())
        .collect();
    assert_eq!(names, ["Budget", "urbanisme"]);
    assert!(is_not_found(
        chat.create_conversation(NewConversation::Channel {
            workspace: WorkspaceId::generate(),
            name: "nowhere".to_owned(),
            private: false,
            created_by: marie.clone(),
        })
        .await
    ));

    // Direct: one conversation per set of people, in any order.
    let pair = chat
        .create_conversation(NewConversation::Direct {
            participants: vec![marie.clone(), paul.clone()],
            created_by: marie.clone(),
        })
        .await
        .unwrap();
    assert_eq!(pair.kind, ConversationKind::Direct);
    assert_eq!(pair.workspace, None);
    let again = chat
        .create_conversation(NewConversation::Direct {
            participants: vec![paul.clone(), marie.clone(), paul.clone()],
            created_by: paul.clone(),
        })
        .await
        .unwrap();
    assert_eq!(again, pair);
    // The creator counts even when left out of the list.
    let implied = chat
        .create_conversation(NewConversation::Direct {
            participants: vec![marie.clone()],
            created_by: paul.clone(),
        })
        .await
        .unwrap();
    assert_eq!(implied.id, pair.id);
    let group = chat
        .create_conversation(NewConversation::Direct {
            participants: vec![lea.clone(), paul.clone(), marie.clone()],
            created_by: lea.clone(),
        })
        .await
        .unwrap();
    assert_ne!(group.id, pair.id);
    let mut expected = vec![marie.clone(), paul.clone(), lea.clone()];
    expected.sort();
    assert_eq!(
        chat.conversation_members(&group.id).await.unwrap(),
        expected
    );
    assert!(is_not_found(
        chat.create_conversation(NewConversation::Direct {
            participants: vec![marie.clone(), marie.clone()],
            created_by: marie.clone(),
        })
        .await
    ));
    assert!(is_not_found(
        chat.create_conversation(NewConversation::Direct {
            participants: vec![marie.clone(), UserId::generate()],
            created_by: marie.clone(),
        })
        .await
    ));

    // Most recent message first: the pair's message makes it come before the group.
    let marie_directs = |conversations: Vec<Conversation>| -> Vec<ConversationId> {
        conversations
            .into_iter()
            .map(|conversation| conversation.id)
            .collect()
    };
    next_millisecond().await;
    post(chat, &pair, &paul, "bonjour").await;
    assert_eq!(
        marie_directs(chat.direct_conversations_of(&marie).await.unwrap()),
        [pair.id.clone(), group.id.clone()]
    );
    next_millisecond().await;
    post(chat, &group, &lea, "bonjour à tous").await;
    assert_eq!(
        marie_directs(chat.direct_conversations_of(&marie).await.unwrap()),
        [group.id.clone(), pair.id.clone()]
    );
    assert_eq!(
        marie_directs(chat.direct_conversations_of(&lea).await.unwrap()),
        [group.id.clone()]
    );

    // Document discussions: one per document.
    let plan = document_id("plan-local");
    directory
        .create_document(&DocumentInfo {
            id: plan.clone(),
            workspace: Some(workspace.clone()),
            title: "Plan local".to_owned(),
            created_by: None,
            created_at_ms: 1_700_000_000_000,
            deleted_at_ms: None,
        })
        .await
        .unwrap();
    assert_eq!(chat.document_conversation(&plan).await.unwrap(), None);
    let discussion = chat
        .create_conversation(NewConversation::Document {
            document: plan.clone(),
            workspace: Some(workspace.clone()),
        })
        .await
        .unwrap();
    assert_eq!(discussion.kind, ConversationKind::Document);
    assert_eq!(discussion.document.as_ref(), Some(&plan));
    assert_eq!(discussion.workspace.as_ref(), Some(&workspace));
    let again = chat
        .create_conversation(NewConversation::Document {
            document: plan.clone(),
            workspace: Some(workspace.clone()),
        })
        .await
        .unwrap();
    assert_eq!(again, discussion);
    assert_eq!(
        chat.document_conversation(&plan).await.unwrap(),
        Some(discussion)
    );
    assert!(is_not_found(
        chat.create_conversation(NewConversation::Document {
            document: document_id("missing"),
            workspace: None,
        })
        .await
    ));

    // Only channels are listed as channels.
    assert_eq!(chat.workspace_channels(&workspace).await.unwrap().len(), 2);
    assert_eq!(
        chat.conversation(&ConversationId::generate())
            .await
            .unwrap(),
        None
    );
    assert_eq!(budget.kind, ConversationKind::Channel);
}

async fn members_are_added_and_removed(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let chat = stores.chat.as_ref();
    let (general, marie, paul) = setup(&stores).await;
    assert!(
        chat.is_conversation_member(&general.id, &marie)
            .await
            .unwrap()
    );
    assert!(
        !chat
            .is_conversation_member(&general.id, &paul)
            .await
            .unwrap()
    );
    chat.add_conversation_member(&general.id, &paul)
        .await
        .unwrap();
    chat.add_conversation_member(&general.id, &paul)
        .await
        .unwrap();
    assert!(
        chat.is_conversation_member(&general.id, &paul)
            .await
            .unwrap()
    );
    let mut both = vec![marie.clone(), paul.clone()];
    both.sort();
    assert_eq!(chat.conversation_members(&general.id).await.unwrap(), both);

    // Removing keeps the read marker.
    post(chat, &general, &marie, "ordre du jour").await;
    assert_eq!(chat.mark_read(&general.id, &paul, 1).await.unwrap(), 1);
    assert!(
        chat.remove_conversation_member(&general.id, &paul)
            .await
            .unwrap()
    );
    assert!(
        !chat
            .remove_conversation_member(&general.id, &paul)
            .await
            .unwrap()
    );
    assert!(
        !chat
            .is_conversation_member(&general.id, &paul)
            .await
            .unwrap()
    );
    assert_eq!(
        chat.conversation_members(&general.id).await.unwrap(),
        [marie.clone()]
    );
    assert!(
        chat.read_markers(&general.id)
            .await
            .unwrap()
            .contains(&(paul.clone(), 1))
    );
    // Coming back keeps it too.
    chat.add_conversation_member(&general.id, &paul)
        .await
        .unwrap();
    assert!(
        chat.read_markers(&general.id)
            .await
            .unwrap()
            .contains(&(paul.clone(), 1))
    );

    assert!(is_not_found(
        chat.add_conversation_member(&general.id, &UserId::generate())
            .await
    ));
    assert!(is_not_found(
        chat.add_conversation_member(&ConversationId::generate(), &paul)
            .await
    ));
    assert!(
        !chat
            .remove_conversation_member(&ConversationId::generate(), &paul)
            .await
            .unwrap()
    );
}

async fn posts_get_dense_seqs_and_retries_return_the_first(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let chat = stores.chat.as_ref();
    let (general, marie, paul) = setup(&stores).await;
    let first = chat
        .post_message(new_message(&general, &marie, "c-1", "Bonjour"))
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.message.seq, 1);
    assert_eq!(first.message.body, "Bonjour");
    assert_eq!(first.message.client_id, "c-1");
    assert_eq!(first.message.author, marie);
    assert_eq!(first.message.edited_at_ms, None);
    assert_eq!(first.message.deleted_at_ms, None);
    assert!(first.message.created_at_ms > 1_700_000_000_000);
    assert_eq!(
        chat.message(&general.id, 1).await.unwrap(),
        Some(first.message.clone())
    );

    // A retry, even with another body, returns the first message and uses no seq.
    let retry = chat
        .post_message(new_message(&general, &marie, "c-1", "Bonjour (retry)"))
        .await
        .unwrap();
    assert!(!retry.created);
    assert_eq!(retry.message, first.message);
    // The same client id from someone else is another message.
    let other = chat
        .post_message(new_message(&general, &paul, "c-1", "Salut"))
        .await
        .unwrap();
    assert!(other.created);
    assert_eq!(other.message.seq, 2);
    let reply = chat
        .post_message(NewMessage {
            reply_to_seq: Some(1),
            ..new_message(&general, &paul, "c-2", "Bienvenue")
        })
        .await
        .unwrap();
    assert_eq!(reply.message.seq, 3);
    assert_eq!(reply.message.reply_to_seq, Some(1));
    assert_eq!(last_seq(chat, &general).await, 3);
    let all = chat.messages_after(&general.id, 0, 100).await.unwrap();
    assert_eq!(seqs(&all), [1, 2, 3]);
    assert_eq!(all[2], reply.message);

    // Another conversation counts from 1.
    let workspace = general.workspace.clone().unwrap();
    let other_channel = channel(chat, &workspace, "autre", &paul).await;
    assert_eq!(post(chat, &other_channel, &paul, "un").await.seq, 1);
}

async fn failed_posts_store_nothing_and_use_no_seq(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let chat = stores.chat.as_ref();
    let (general, marie, paul) = setup(&stores).await;
    post(chat, &general, &marie, "un").await;
    let failures = [
        NewMessage {
            reply_to_seq: Some(7),
            ..new_message(&general, &marie, "bad-reply", "réponse")
        },
        NewMessage {
            mentions: vec![paul.clone(), UserId::generate()],
            ..new_message(&general, &marie, "bad-mention", "@personne")
        },
        new_message(&general, &UserId::generate(), "bad-author", "qui ?"),
        NewMessage {
            conversation: ConversationId::generate(),
            ..new_message(&general, &marie, "bad-conversation", "où ?")
        },
        NewMessage {
            attachments: vec![AttachmentId::generate()],
            ..new_message(&general, &marie, "bad-attachment", "pièce jointe")
        },
    ];
    for failure in failures {
        let client_id = failure.client_id.clone();
        let result = chat.post_message(failure).await;
        assert!(
            matches!(result, Err(StoreError::NotFound(_))),
            "{client_id}: {result:?}"
        );
    }
    assert_eq!(last_seq(chat, &general).await, 1);
    assert_eq!(
        seqs(&chat.messages_after(&general.id, 0, 0).await.unwrap()),
        [1]
    );
    // The failed client ids were not recorded: they post normally now.
    let now = chat
        .post_message(new_message(&general, &marie, "bad-reply", "réponse"))
        .await
        .unwrap();
    assert!(now.created);
    assert_eq!(now.message.seq, 2);
}

async fn mentions_and_attachments_round_trip(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let (directory, chat) = (stores.directory.as_ref(), stores.chat.as_ref());
    let (general, marie, paul) = setup(&stores).await;
    let lea = user(directory, "lea@mairie.fr").await;
    let agenda = upload(chat, &general, &marie, b"ordre du jour").await;
    let minutes = upload(chat, &general, &marie, b"compte rendu").await;
    let posted = chat
        .post_message(NewMessage {
            mentions: vec![lea.clone(), paul.clone(), lea.clone()],
            mentions_all: true,
            // Out of upload order and repeated: stored once each, read in upload order.
            attachments: vec![minutes.id.clone(), agenda.id.clone(), minutes.id.clone()],
            ..new_message(&general, &marie, "c-1", "@Léa @Paul voici les documents")
        })
        .await
        .unwrap();
    assert!(posted.created);
    let message = posted.message;
    let mut mentioned = vec![lea.clone(), paul.clone()];
    mentioned.sort();
    assert_eq!(message.mentions, mentioned);
    assert!(message.mentions_all);
    let mut uploads = vec![
        (agenda.created_at_ms, agenda.id.clone()),
        (minutes.created_at_ms, minutes.id.clone()),
    ];
    uploads.sort();
    let in_upload_order: Vec<AttachmentId> = uploads.into_iter().map(|(_, id)| id).collect();
    assert_eq!(message.attachments, in_upload_order);
    // Every read gives the same message.
    assert_eq!(
        chat.message(&general.id, 1).await.unwrap().as_ref(),
        Some(&message)
    );
    assert_eq!(
        chat.messages_after(&general.id, 0, 10).await.unwrap(),
        [message.clone()]
    );
    assert_eq!(
        chat.messages_before(&general.id, 2, 10).await.unwrap(),
        [message.clone()]
    );
    let retry = chat
        .post_message(new_message(&general, &marie, "c-1", "ignored"))
        .await
        .unwrap();
    assert_eq!(retry.message, message);
    let recorded = chat.attachment(&agenda.id).await.unwrap().unwrap();
    assert_eq!(recorded.message_seq, Some(1));
    assert_eq!(
        Attachment {
            message_seq: None,
            ..recorded
        },
        agenda
    );

    // Messages without details next to one with them: each gets its own.
    let plain = post(chat, &general, &paul, "merci").await;
    let page = chat.messages_after(&general.id, 0, 10).await.unwrap();
    assert_eq!(page, [message, plain]);
    assert!(page[1].mentions.is_empty() && page[1].attachments.is_empty());
}

async fn attachments_are_used_once_by_their_uploader_only(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let chat = stores.chat.as_ref();
    let (general, marie, paul) = setup(&stores).await;
    let workspace = general.workspace.clone().unwrap();
    let elsewhere = channel(chat, &workspace, "ailleurs", &marie).await;
    let mine = upload(chat, &general, &marie, b"mine").await;
    let pauls = upload(chat, &general, &paul, b"paul's").await;
    let other_place = upload(chat, &elsewhere, &marie, b"elsewhere").await;

    for (client_id, attachments) in [
        ("someone-elses", vec![mine.id.clone(), pauls.id.clone()]),
        (
            "other-conversation",
            vec![mine.id.clone(), other_place.id.clone()],
        ),
    ] {
        let result = chat
            .post_message(NewMessage {
                attachments,
                ..new_message(&general, &marie, client_id, "voir pièce jointe")
            })
            .await;
        assert!(is_not_found(result), "{client_id}");
        // Rolled back: the valid attachment is still free, no seq was used.
        assert_eq!(
            chat.attachment(&mine.id)
                .await
                .unwrap()
                .unwrap()
                .message_seq,
            None
        );
        assert_eq!(last_seq(chat, &general).await, 0);
    }

    let used = chat
        .post_message(NewMessage {
            attachments: vec![mine.id.clone()],
            ..new_message(&general, &marie, "first", "voir pièce jointe")
        })
        .await
        .unwrap();
    assert_eq!(used.message.attachments, [mine.id.clone()]);
    let again = chat
        .post_message(NewMessage {
            attachments: vec![mine.id.clone()],
            ..new_message(&general, &marie, "second", "la même")
        })
        .await;
    assert!(is_not_found(again));
    assert_eq!(last_seq(chat, &general).await, 1);
    assert_eq!(
        chat.attachment(&mine.id)
            .await
            .unwrap()
            .unwrap()
            .message_seq,
        Some(1)
    );
    // Paul can use his own.
    let pauls_post = chat
        .post_message(NewMessage {
            attachments: vec![pauls.id.clone()],
            ..new_message(&general, &paul, "p", "la mienne")
        })
        .await
        .unwrap();
    assert_eq!(pauls_post.message.seq, 2);
}

async fn history_is_paged_after_and_before(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let chat = stores.chat.as_ref();
    let (general, marie, _) = setup(&stores).await;
    for index in 1..=10 {
        post(chat, &general, &marie, &format!("message {index}")).await;
    }
    assert_eq!(
        seqs(&chat.messages_after(&general.id, 0, 3).await.unwrap()),
        [1, 2, 3]
    );
    assert_eq!(
        seqs(&chat.messages_after(&general.id, 8, 10).await.unwrap()),
        [9, 10]
    );
    assert_eq!(
        seqs(&chat.messages_after(&general.id, 10, 10).await.unwrap()),
        Vec::<i64>::new()
    );
    assert_eq!(
        seqs(&chat.messages_after(&general.id, 0, 0).await.unwrap()),
        (1..=10).collect::<Vec<_>>()
    );
    assert_eq!(
        seqs(&chat.messages_before(&general.id, 11, 3).await.unwrap()),
        [8, 9, 10]
    );
    assert_eq!(
        seqs(&chat.messages_before(&general.id, 8, 3).await.unwrap()),
        [5, 6, 7]
    );
    assert_eq!(
        seqs(&chat.messages_before(&general.id, 3, 10).await.unwrap()),
        [1, 2]
    );
    assert_eq!(
        seqs(&chat.messages_before(&general.id, 1, 10).await.unwrap()),
        Vec::<i64>::new()
    );
    assert_eq!(
        seqs(
            &chat
                .messages_before(&general.id, i64::MAX, u32::MAX)
                .await
                .unwrap()
        ),
        (1..=10).collect::<Vec<_>>()
    );
    let page = chat.messages_after(&general.id, 4, 2).await.unwrap();
    assert_eq!(page[0].body, "message 5");
    assert_eq!(page[1].body, "message 6");
    assert_eq!(chat.message(&general.id, 11).await.unwrap(), None);
    assert!(
        chat.messages_after(&ConversationId::generate(), 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn messages_are_edited_and_deleted(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let chat = stores.chat.as_ref();
    let (general, marie, paul) = setup(&stores).await;
    post(chat, &general, &marie, "premier").await;
    let attachment = upload(chat, &general, &marie, b"secret").await;
    let second = chat
        .post_message(NewMessage {
            mentions: vec![paul.clone()],
            attachments: vec![attachment.id.clone()],
            ..new_message(&general, &marie, "c-2", "deuxième")
        })
        .await
        .unwrap()
        .message;
    post(chat, &general, &paul, "troisième").await;
    assert!(
        chat.add_reaction(&general.id, 2, &paul, "👍")
            .await
            .unwrap()
    );

    let edited = chat
        .edit_message(&general.id, 2, "deuxième, corrigé")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(edited.body, "deuxième, corrigé");
    assert!(edited.edited_at_ms.is_some());
    assert_eq!(edited.mentions, second.mentions);
    assert_eq!(edited.attachments, second.attachments);
    assert_eq!(
        Message {
            body: second.body.clone(),
            edited_at_ms: None,
            ..edited.clone()
        },
        second
    );
    assert_eq!(
        chat.message(&general.id, 2).await.unwrap(),
        Some(edited.clone())
    );

    let deleted = chat.delete_message(&general.id, 2).await.unwrap().unwrap();
    assert_eq!(deleted.seq, 2);
    assert_eq!(deleted.id, second.id);
    assert_eq!(deleted.body, "");
    assert!(deleted.deleted_at_ms.is_some());
    assert!(deleted.mentions.is_empty());
    assert!(deleted.attachments.is_empty());
    assert_eq!(
        chat.message(&general.id, 2).await.unwrap(),
        Some(deleted.clone())
    );
    // The seq stays in the history; the attachment, its blob and the reactions are gone.
    assert_eq!(
        seqs(&chat.messages_after(&general.id, 0, 10).await.unwrap()),
        [1, 2, 3]
    );
    assert_eq!(chat.attachment(&attachment.id).await.unwrap(), None);
    assert!(object_keys(harness.objects.as_ref()).await.is_empty());
    assert!(chat.reactions(&general.id, 1, 3).await.unwrap().is_empty());
    assert!(is_not_found(
        chat.add_reaction(&general.id, 2, &paul, "👍").await
    ));

    assert_eq!(
        chat.edit_message(&general.id, 2, "ressuscité")
            .await
            .unwrap(),
        None
    );
    assert_eq!(chat.delete_message(&general.id, 2).await.unwrap(), None);
    assert_eq!(
        chat.edit_message(&general.id, 9, "absent").await.unwrap(),
        None
    );
    assert_eq!(chat.delete_message(&general.id, 9).await.unwrap(), None);
    assert_eq!(chat.message(&general.id, 2).await.unwrap(), Some(deleted));
    assert_eq!(last_seq(chat, &general).await, 3);
    // The next post still follows the last seq.
    assert_eq!(post(chat, &general, &paul, "quatrième").await.seq, 4);
}

async fn reactions_are_added_listed_and_removed(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let chat = stores.chat.as_ref();
    let (general, marie, paul) = setup(&stores).await;
    for body in ["un", "deux", "trois"] {
        post(chat, &general, &marie, body).await;
    }
    assert!(
        chat.add_reaction(&general.id, 1, &paul, "👍")
            .await
            .unwrap()
    );
    assert!(
        !chat
            .add_reaction(&general.id, 1, &paul, "👍")
            .await
            .unwrap()
    );
    // Reaction order is kept to the millisecond.
    next_millisecond().await;
    assert!(
        chat.add_reaction(&general.id, 1, &marie, "👍")
            .await
            .unwrap()
    );
    assert!(
        chat.add_reaction(&general.id, 1, &marie, "🎉")
            .await
            .unwrap()
    );
    assert!(
        chat.add_reaction(&general.id, 3, &marie, "❤️")
            .await
            .unwrap()
    );
    let summary = |reactions: Vec<relais_storage::Reaction>| -> Vec<(i64, String, Vec<UserId>)> {
        reactions
            .into_iter()
            .map(|reaction| (reaction.seq, reaction.emoji, reaction.users))
            .collect()
    };
    // By seq, then emoji in byte order; users in the order they reacted.
    let mut on_first = vec![
        (1, "👍".to_owned(), vec![paul.clone(), marie.clone()]),
        (1, "🎉".to_owned(), vec![marie.clone()]),
    ];
    on_first.sort_by(|a, b| a.1.cmp(&b.1));
    let mut expected = on_first.clone();
    expected.push((3, "❤️".to_owned(), vec![marie.clone()]));
    assert_eq!(
        summary(chat.reactions(&general.id, 1, 3).await.unwrap()),
        expected
    );
    assert_eq!(
        summary(chat.reactions(&general.id, 1, 2).await.unwrap()),
        on_first
    );
    assert!(chat.reactions(&general.id, 2, 2).await.unwrap().is_empty());

    assert!(
        chat.remove_reaction(&general.id, 1, &paul, "👍")
            .await
            .unwrap()
    );
    assert!(
        !chat
            .remove_reaction(&general.id, 1, &paul, "👍")
            .await
            .unwrap()
    );
    let after: Vec<_> = summary(chat.reactions(&general.id, 1, 1).await.unwrap());
    assert!(
        after.contains(&(1, "👍".to_owned(), vec![marie.clone()])),
        "{after:?}"
    );

    assert!(is_not_found(
        chat.add_reaction(&general.id, 9, &paul, "👍").await
    ));
    assert!(is_not_found(
        chat.add_reaction(&general.id, 1, &UserId::generate(), "👍")
            .await
    ));
}

async fn read_markers_and_unread_counts(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let (directory, chat) = (stores.directory.as_ref(), stores.chat.as_ref());
    let (general, marie, paul) = setup(&stores).await;
    let lea = user(directory, "lea@mairie.fr").await;
    let workspace = general.workspace.clone().unwrap();
    let quiet = channel(chat, &workspace, "calme", &marie).await;

    // Paul writes 1 plain, 2 mentioning Marie, 3 @channel, 4 mentioning Léa; Marie writes 5.
    post(chat, &general, &paul, "un").await;
    chat.post_message(NewMessage {
        mentions: vec![marie.clone()],
        ..new_message(&general, &paul, "m2", "@Marie deux")
    })
    .await
    .unwrap();
    chat.post_message(NewMessage {
        mentions_all: true,
        ..new_message(&general, &paul, "m3", "@channel trois")
    })
    .await
    .unwrap();
    chat.post_message(NewMessage {
        mentions: vec![lea.clone()],
        ..new_message(&general, &paul, "m4", "@Léa quatre")
    })
    .await
    .unwrap();
    post(chat, &general, &marie, "cinq").await;

    let counts =
        |states: Vec<relais_storage::ConversationState>| -> Vec<(ConversationId, i64, u64, u64)> {
            states
                .into_iter()
                .map(|state| {
                    (
                        state.conversation.id,
                        state.last_read_seq,
                        state.unread,
                        state.mentions,
                    )
                })
                .collect()
        };
    let ids = [
        quiet.id.clone(),
        ConversationId::generate(),
        general.id.clone(),
    ];
    let states = chat.conversation_states(&marie, &ids).await.unwrap();
    assert_eq!(states[1].conversation.last_seq, 5);
    assert_eq!(
        counts(states),
        [(quiet.id.clone(), 0, 0, 0), (general.id.clone(), 0, 4, 2)]
    );
    assert!(
        chat.conversation_states(&marie, &[])
            .await
            .unwrap()
            .is_empty()
    );

    // Forward only, never past the last seq.
    assert_eq!(chat.mark_read(&general.id, &marie, 2).await.unwrap(), 2);
    assert_eq!(
        counts(
            chat.conversation_states(&marie, &[general.id.clone()])
                .await
                .unwrap()
        ),
        [(general.id.clone(), 2, 2, 1)]
    );
    assert_eq!(chat.mark_read(&general.id, &marie, 1).await.unwrap(), 2);
    assert_eq!(chat.mark_read(&general.id, &marie, 99).await.unwrap(), 5);
    assert_eq!(
        counts(
            chat.conversation_states(&marie, &[general.id.clone()])
                .await
                .unwrap()
        ),
        [(general.id.clone(), 5, 0, 0)]
    );

    // Léa reads the public channel without joining it; a deleted message no longer counts.
    assert_eq!(
        counts(
            chat.conversation_states(&lea, &[general.id.clone()])
                .await
                .unwrap()
        ),
        [(general.id.clone(), 0, 5, 2)]
    );
    chat.delete_message(&general.id, 4).await.unwrap().unwrap();
    assert_eq!(
        counts(
            chat.conversation_states(&lea, &[general.id.clone()])
                .await
                .unwrap()
        ),
        [(general.id.clone(), 0, 4, 1)]
    );
    assert_eq!(chat.mark_read(&general.id, &lea, 3).await.unwrap(), 3);
    assert!(
        !chat
            .is_conversation_member(&general.id, &lea)
            .await
            .unwrap()
    );
    assert_eq!(
        chat.conversation_members(&general.id).await.unwrap(),
        [marie.clone()]
    );
    let mut markers = vec![(marie.clone(), 5), (lea.clone(), 3)];
    markers.sort();
    assert_eq!(chat.read_markers(&general.id).await.unwrap(), markers);
    assert_eq!(chat.mark_read(&quiet.id, &paul, 3).await.unwrap(), 0);

    assert!(is_not_found(
        chat.mark_read(&ConversationId::generate(), &marie, 1).await
    ));
    assert!(is_not_found(
        chat.mark_read(&general.id, &UserId::generate(), 1).await
    ));
}

async fn search_is_accent_insensitive_and_restricted(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let chat = stores.chat.as_ref();
    let (general, marie, paul) = setup(&stores).await;
    let workspace = general.workspace.clone().unwrap();
    let secret = channel(chat, &workspace, "secret", &paul).await;
    let council = post(
        chat,
        &general,
        &marie,
        "La délibération du conseil municipal",
    )
    .await;
    let agenda = post(chat, &general, &paul, "Ordre du jour : budget et voirie").await;
    let hidden = post(chat, &secret, &paul, "Délibération secrète du conseil").await;
    let both = [general.id.clone(), secret.id.clone()];
    let ids = |messages: Vec<Message>| -> Vec<relais_storage::MessageId> {
        messages.into_iter().map(|message| message.id).collect()
    };

    let found = chat
        .search_messages(&[general.id.clone()], "deliberation", 10)
        .await
        .unwrap();
    assert_eq!(found, [council.clone()]);
    assert_eq!(
        ids(chat
            .search_messages(&[general.id.clone()], "DÉLIBÉRATION conseil", 10)
            .await
            .unwrap()),
        [council.id.clone()]
    );
    // All words are required.
    assert!(
        chat.search_messages(&both, "délibération budget", 10)
            .await
            .unwrap()
            .is_empty()
    );
    let mut everywhere = ids(chat
        .search_messages(&both, "deliberation", 10)
        .await
        .unwrap());
    everywhere.sort();
    let mut expected = vec![council.id.clone(), hidden.id.clone()];
    expected.sort();
    assert_eq!(everywhere, expected);
    assert_eq!(
        chat.search_messages(&both, "conseil", 1)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ids(chat
            .search_messages(&[secret.id.clone()], "conseil", 10)
            .await
            .unwrap()),
        [hidden.id.clone()]
    );
    assert!(
        chat.search_messages(&[], "conseil", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        chat.search_messages(&both, "   ", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        chat.search_messages(&[ConversationId::generate()], "conseil", 10)
            .await
            .unwrap()
            .is_empty()
    );

    // Best match first, even before a more recent message.
    let budget = post(
        chat,
        &general,
        &marie,
        "Budget : le budget primitif, budget annexe",
    )
    .await;
    next_millisecond().await;
    let mention = post(chat, &general, &paul, "Voir le budget").await;
    assert_eq!(
        ids(chat
            .search_messages(&[general.id.clone()], "budget", 10)
            .await
            .unwrap()),
        [budget.id.clone(), mention.id.clone(), agenda.id.clone()]
    );

    // Edits are searched; deleted messages are not.
    chat.edit_message(&general.id, council.seq, "La séance est levée")
        .await
        .unwrap()
        .unwrap();
    assert!(
        chat.search_messages(&[general.id.clone()], "deliberation", 10)
            .await
            .unwrap()
            .is_empty()
    );
    let edited = chat
        .search_messages(&[general.id.clone()], "séance", 10)
        .await
        .unwrap();
    assert_eq!(ids(edited), [council.id.clone()]);
    chat.delete_message(&secret.id, hidden.seq)
        .await
        .unwrap()
        .unwrap();
    assert!(
        chat.search_messages(&both, "secrète", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        chat.search_messages(&both, "deliberation", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn search_takes_any_text_literally(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let chat = stores.chat.as_ref();
    let (general, marie, _) = setup(&stores).await;
    let near = post(chat, &general, &marie, "near the station, a OR b").await;
    let targets = [general.id.clone()];
    for query in [
        "\"a\" OR NEAR(b) *",
        "\"",
        "*",
        "body:station",
        "NEAR(",
        "a AND",
        "-station",
        "((()))",
        "^station",
        "station\"",
        "l'école «gare»",
        "\u{0}",
    ] {
        let result = chat.search_messages(&targets, query, 10).await;
        assert!(result.is_ok(), "{query:?}: {result:?}");
    }
    // Operator words are plain words: this finds the message containing "near" and "station".
    let found = chat
        .search_messages(&targets, "NEAR(station)", 10)
        .await
        .unwrap();
    assert_eq!(found, [near]);
}

async fn french_search_stems_words(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let chat = stores.chat.as_ref();
    let (general, marie, _) = setup(&stores).await;
    let council = post(chat, &general, &marie, "La délibération du conseil").await;
    post(chat, &general, &marie, "Les élèves de l'école").await;
    for query in [
        "deliberation",
        "délibérations",
        "Délibérations du Conseil",
        "conseils",
    ] {
        let found = chat
            .search_messages(&[general.id.clone()], query, 10)
            .await
            .unwrap();
        assert_eq!(found, [council.clone()], "{query}");
    }
    let pupils = chat
        .search_messages(&[general.id.clone()], "eleve ecoles", 10)
        .await
        .unwrap();
    assert_eq!(pupils.len(), 1);
    assert_eq!(pupils[0].body, "Les élèves de l'école");
    // websearch syntax is read, never an error: a quoted phrase, OR, a negation.
    let either = chat
        .search_messages(
            &[general.id.clone()],
            "\"conseil municipal\" or élève -budget",
            10,
        )
        .await
        .unwrap();
    assert_eq!(either.len(), 1);
    // Only stop words: nothing to look for.
    assert!(
        chat.search_messages(&[general.id.clone()], "la du de", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn attachment_blobs_are_checked_and_cleaned_up(harness: Arc<Harness>) {
    let stores = harness.open().await;
    let chat = stores.chat.as_ref();
    let (general, marie, _) = setup(&stores).await;
    let bytes: &'static [u8] = b"%PDF-1.7 compte rendu du conseil";
    let stored = upload(chat, &general, &marie, bytes).await;
    assert_eq!(stored.len, bytes.len() as u64);
    assert_eq!(stored.sha256_hex.len(), 64);
    assert_eq!(stored.file_name, "compte-rendu.pdf");
    assert_eq!(stored.content_type, "application/pdf");
    assert_eq!(stored.message_seq, None);
    let key = format!("attachments/{}/{}", general.id, stored.id);
    assert_eq!(object_keys(harness.objects.as_ref()).await, [key.clone()]);
    let read = chat.attachment(&stored.id).await.unwrap().unwrap();
    assert_eq!(read, stored);
    assert_eq!(
        chat.attachment_bytes(&read).await.unwrap(),
        Bytes::from_static(bytes)
    );
    assert_eq!(
        chat.attachment(&AttachmentId::generate()).await.unwrap(),
        None
    );

    // Another store instance on the same objects reads it too.
    let other = harness.open().await;
    assert_eq!(
        other.chat.attachment_bytes(&read).await.unwrap(),
        Bytes::from_static(bytes)
    );

    // Altered or missing bytes are corrupt.
    harness
        .objects
        .put(
            &Path::from(key.as_str()),
            PutPayload::from_static(b"%PDF-1.7 compte rendu du conseiL"),
        )
        .await
        .unwrap();
    assert!(matches!(
        chat.attachment_bytes(&read).await,
        Err(StoreError::Corrupt(_))
    ));
    harness
        .objects
        .put(&Path::from(key.as_str()), PutPayload::from_static(b"short"))
        .await
        .unwrap();
    assert!(matches!(
        chat.attachment_bytes(&read).await,
        Err(StoreError::Corrupt(_))
    ));
    harness
        .objects
        .delete(&Path::from(key.as_str()))
        .await
        .unwrap();
    assert!(matches!(
        chat.attachment_bytes(&read).await,
        Err(StoreError::Corrupt(_))
    ));

    // A row that cannot be written takes its blob with it.
    for (conversation, uploader) in [
        (ConversationId::generate(), marie.clone()),
        (general.id.clone(), UserId::generate()),
    ] {
        let result = chat
            .put_attachment(
                NewAttachment {
                    conversation,
                    uploaded_by: uploader,
                    file_name: "x.txt".to_owned(),
                    content_type: "text/plain".to_owned(),
                },
                Bytes::from_static(b"orphan"),
            )
            .await;
        assert!(is_not_found(result));
    }
    assert!(object_keys(harness.objects.as_ref()).await.is_empty());
}

async fn concurrent_posts_from_two_stores_get_dense_seqs(harness: Arc<Harness>) {
    // Two stores stand for two server processes; each posts from its own pool.
    let first = harness.open().await;
    let second = harness.open().await;
    let (general, marie, paul) = setup(&first).await;
    let post_many = |chat: Arc<dyn Chat>, conversation: Conversation, author: UserId| async move {
        let mut seqs = Vec::new();
        for index in 0..50 {
            let posted = chat
                .post_message(new_message(
                    &conversation,
                    &author,
                    &format!("c-{index}"),
                    "concurrent",
                ))
                .await
                .unwrap();
            assert!(posted.created);
            seqs.push(posted.message.seq);
        }
        seqs
    };
    let (a, b) = tokio::join!(
        tokio::spawn(post_many(
            first.chat.clone(),
            general.clone(),
            marie.clone()
        )),
        tokio::spawn(post_many(
            second.chat.clone(),
            general.clone(),
            paul.clone()
        )),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    // Each store saw its own seqs increase.
    assert!(a.windows(2).all(|pair| pair[0] < pair[1]));
    assert!(b.windows(2).all(|pair| pair[0] < pair[1]));
    let mut all: Vec<i64> = a.into_iter().chain(b).collect();
    all.sort_unstable();
    assert_eq!(all, (1..=100).collect::<Vec<_>>());
    let stored = second.chat.messages_after(&general.id, 0, 0).await.unwrap();
    assert_eq!(seqs(&stored), (1..=100).collect::<Vec<_>>());
    assert_eq!(last_seq(first.chat.as_ref(), &general).await, 100);
}

async fn concurrent_creations_find_one_conversation(harness: Arc<Harness>) {
    let first = harness.open().await;
    let second = harness.open().await;
    let marie = user(first.directory.as_ref(), "marie@mairie.fr").await;
    let paul = user(first.directory.as_ref(), "paul@mairie.fr").await;
    let plan = document_id("plan");
    first
        .directory
        .create_document(&DocumentInfo {
            id: plan.clone(),
            workspace: None,
            title: "Plan".to_owned(),
            created_by: None,
            created_at_ms: 1_700_000_000_000,
            deleted_at_ms: None,
        })
        .await
        .unwrap();
    for _ in 0..5 {
        let direct = |chat: Arc<dyn Chat>, participants: Vec<UserId>, created_by: UserId| async move {
            chat.create_conversation(NewConversation::Direct {
                participants,
                created_by,
            })
            .await
            .unwrap()
        };
        let (a, b) = tokio::join!(
            tokio::spawn(direct(
                first.chat.clone(),
                vec![marie.clone(), paul.clone()],
                marie.clone()
            )),
            tokio::spawn(direct(
                second.chat.clone(),
                vec![paul.clone(), marie.clone()],
                paul.clone()
            )),
        );
        assert_eq!(a.unwrap().id, b.unwrap().id);
        let discussion = |chat: Arc<dyn Chat>, document: DocumentId| async move {
            chat.create_conversation(NewConversation::Document {
                document,
                workspace: None,
            })
            .await
            .unwrap()
        };
        let (a, b) = tokio::join!(
            tokio::spawn(discussion(first.chat.clone(), plan.clone())),
            tokio::spawn(discussion(second.chat.clone(), plan.clone())),
        );
        assert_eq!(a.unwrap().id, b.unwrap().id);
    }
    assert_eq!(
        first
            .chat
            .direct_conversations_of(&marie)
            .await
            .unwrap()
            .len(),
        1
    );
}
