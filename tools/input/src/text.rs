//! Cutting a user's value short for a message: the one helper every reader (and the server)
//! uses, each with the limits its messages have always had.

/// `text` itself when it has at most `limit` characters; else its first `keep` characters
/// followed by `marker` (`...`, or nothing).
pub fn clip(text: &str, limit: usize, keep: usize, marker: &str) -> String {
    if text.chars().count() <= limit {
        return text.to_string();
    }
    let mut short: String = text.chars().take(keep).collect();
    short.push_str(marker);
    short
}

#[cfg(test)]
mod tests {
    use super::clip;

    #[test]
    fn clips_by_characters_not_bytes() {
        assert_eq!(clip("abc", 3, 2, "..."), "abc");
        assert_eq!(clip("abcd", 3, 2, "..."), "ab...");
        assert_eq!(clip("ééééé", 4, 4, ""), "éééé");
    }
}
