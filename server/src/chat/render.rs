//! Light Markdown to safe HTML for chat messages.
//!
//! Messages are stored exactly as sent; this rendering is what readers' browsers receive, and
//! nothing in it can run: raw HTML in a message is shown as text, links keep only `http`,
//! `https` and `mailto` targets (others render as plain text), images render as their
//! description, and every attribute written comes from this code, never from the message.

use pulldown_cmark::{Event, LinkType, Options, Parser, Tag, TagEnd, html};

/// Whether a link target is one a reader may follow.
fn safe_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:")
        // A relative link into Relais itself (a document, a version).
        || (lower.starts_with('/') && !lower.starts_with("//"))
}

/// Renders a message's Markdown (bold, italic, links, lists, code, quotes, strikethrough) as
/// HTML safe to insert into a page.
pub fn render(markdown: &str) -> String {
    let parser = Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH);
    // Links whose target is refused lose their <a>, and so must their closing tag: a stack
    // says, for each open link, whether it was kept.
    let mut links_kept: Vec<bool> = Vec::new();
    let events = parser.filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            // E-mail autolinks (`<nom@exemple.fr>`) become mailto: links.
            let keep = link_type == LinkType::Email || safe_url(&dest_url);
            links_kept.push(keep);
            keep.then_some(Event::Start(Tag::Link { link_type, dest_url, title, id }))
        }
        Event::End(TagEnd::Link) => links_kept.pop().unwrap_or(false).then_some(Event::End(TagEnd::Link)),
        // An image would make every reader's browser fetch a URL chosen by the sender; its
        // description stays as text.
        Event::Start(Tag::Image { .. }) | Event::End(TagEnd::Image) => None,
        Event::Start(Tag::HtmlBlock) | Event::End(TagEnd::HtmlBlock) => None,
        Event::Start(Tag::Heading { .. }) => Some(Event::Start(Tag::Paragraph)),
        Event::End(TagEnd::Heading(_)) => Some(Event::End(TagEnd::Paragraph)),
        other => Some(other),
    });
    let mut out = String::with_capacity(markdown.len() + markdown.len() / 2);
    html::push_html(&mut out, events);
    out
}

/// Names mentioned in a message: `@word` tokens (letters, digits, `.`, `-`, `_`), and
/// whether `@channel` (or `@tous`) is among them.
pub fn mentions(markdown: &str) -> (Vec<String>, bool) {
    let mut names = Vec::new();
    let mut all = false;
    let chars: Vec<char> = markdown.chars().collect();
    let mut index = 0;
    while index < chars.len() {
        let boundary = index == 0 || !(chars[index - 1].is_alphanumeric() || chars[index - 1] == '@');
        if chars[index] == '@' && boundary {
            let start = index + 1;
            let mut end = start;
            while end < chars.len() && (chars[end].is_alphanumeric() || matches!(chars[end], '.' | '-' | '_')) {
                end += 1;
            }
            let name: String = chars[start..end].iter().collect::<String>().trim_end_matches(['.', '-', '_']).to_lowercase();
            if name == "channel" || name == "tous" {
                all = true;
            } else if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
            index = end;
        } else {
            index += 1;
        }
    }
    (names, all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn light_markdown_renders() {
        assert_eq!(render("**gras** et *italique*"), "<p><strong>gras</strong> et <em>italique</em></p>\n");
        assert!(render("- un\n- deux").contains("<ul>\n<li>un</li>\n<li>deux</li>\n</ul>"));
        assert!(render("`code`").contains("<code>code</code>"));
        assert!(render("[site](https://exemple.fr)").contains("<a href=\"https://exemple.fr\">site</a>"));
    }

    #[test]
    fn nothing_in_a_message_can_run() {
        let hostile = "<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n\
                       [clic](javascript:alert(3)) [b](JaVaScRiPt:alert(4)) [c](data:text/html,x)\n\n\
                       ![image](https://tracker.example/pixel.png) <a href=\"javascript:alert(5)\" onclick=\"x()\">a</a>\n\n\
                       <div onmouseover=\"alert(6)\">survol</div>";
        let html = render(hostile);
        let lower = html.to_ascii_lowercase();
        assert!(!lower.contains("<script"), "{html}");
        assert!(!lower.contains("<img"), "{html}");
        assert!(!lower.contains("<a href=\"javascript"), "{html}");
        assert!(!lower.contains("href=\"data:"), "{html}");
        assert!(!lower.contains("<div"), "{html}");
        // Event handlers survive only as escaped text, never inside a tag we wrote.
        for tag in lower.split('<').skip(1) {
            let inside = tag.split('>').next().unwrap_or_default();
            assert!(!inside.contains(" on"), "attribute in <{inside}>: {html}");
        }
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("clic"), "the text of a refused link stays: {html}");
    }

    #[test]
    fn finds_mentions() {
        let (names, all) = mentions("Bonjour @marie.dupont et @Jean-Luc, cc @channel. mail@exemple.fr");
        assert_eq!(names, vec!["marie.dupont", "jean-luc"]);
        assert!(all);
        assert_eq!(mentions("rien ici"), (vec![], false));
    }
}
