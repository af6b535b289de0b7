//! The lexer of Go's `text/template`: text, and actions between `{{` and `}}`.
//!
//! Whitespace trimming is done here: `{{- ` removes the whitespace before the action from the
//! preceding text, ` -}}` the whitespace after it from the following text (the marker needs
//! the space: `{{-3}}` is the number -3). Comments `{{/* */}}` produce no token.

/// One token, with the 1-based line it starts on.
#[derive(Clone, Debug, PartialEq)]
pub struct Token {
    /// What it is.
    pub kind: Tok,
    /// Where it starts.
    pub line: usize,
}

/// Token kinds.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// Text outside actions (already trimmed).
    Text(String),
    /// `{{`.
    Open,
    /// `}}`.
    Close,
    /// A word: a function name or keyword (`if`, `range`, `true`, `nil`, ...).
    Ident(String),
    /// `.a.b`: a field chain on dot.
    Field(Vec<String>),
    /// `.` alone.
    Dot,
    /// `$` or `$name`, with a field chain (`$x.a.b`).
    Var(String, Vec<String>),
    /// `.a.b` right after `)`: fields of a parenthesised pipeline's result.
    Chain(Vec<String>),
    /// A string literal (quoted or raw), unescaped.
    Str(String),
    /// An integer literal (or a character literal's code point).
    Int(i64),
    /// A floating-point literal.
    Float(f64),
    /// `|`.
    Pipe,
    /// `(`.
    LParen,
    /// `)`.
    RParen,
    /// `:=`.
    Declare,
    /// `=`.
    Assign,
    /// `,`.
    Comma,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn is_ident_char(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

/// A lexing error: the line and what is wrong.
pub type LexError = (usize, String);

/// Splits a template into tokens.
pub fn lex(src: &str) -> Result<Vec<Token>, LexError> {
    let chars: Vec<char> = src.chars().collect();
    let mut lx = Lexer { chars, pos: 0, line: 1, out: Vec::new(), trim_next_text: false };
    lx.run()?;
    Ok(lx.out)
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    out: Vec<Token>,
    trim_next_text: bool,
}

impl Lexer {
    fn starts_with(&self, s: &str) -> bool {
        (self.pos..).zip(s.chars()).all(|(i, c)| self.chars.get(i) == Some(&c))
    }

    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
        }
        Some(c)
    }

    fn push(&mut self, kind: Tok, line: usize) {
        self.out.push(Token { kind, line });
    }

    fn run(&mut self) -> Result<(), LexError> {
        loop {
            // Text up to the next `{{`.
            let start_line = self.line;
            let mut text = String::new();
            while self.pos < self.chars.len() && !self.starts_with("{{") {
                if let Some(c) = self.bump() {
                    text.push(c);
                }
            }
            if self.trim_next_text {
                text = text.trim_start_matches(is_space).to_owned();
                self.trim_next_text = false;
            }
            if self.pos >= self.chars.len() {
                if !text.is_empty() {
                    self.push(Tok::Text(text), start_line);
                }
                return Ok(());
            }
            // An action: `{{`, maybe `{{- `.
            let open_line = self.line;
            self.pos += 2;
            if self.peek(0) == Some('-') && self.peek(1).is_some_and(is_space) {
                text = text.trim_end_matches(is_space).to_owned();
                self.pos += 1;
            }
            if !text.is_empty() {
                self.push(Tok::Text(text), start_line);
            }
            self.skip_spaces_if_comment_follows();
            if self.starts_with("/*") {
                self.comment(open_line)?;
                continue;
            }
            self.push(Tok::Open, open_line);
            self.action(open_line)?;
        }
    }

    /// `{{- /* x */ -}}`: a comment may follow the trim marker's space.
    fn skip_spaces_if_comment_follows(&mut self) {
        let mut i = self.pos;
        while self.chars.get(i).copied().is_some_and(is_space) {
            i += 1;
        }
        if self.chars.get(i) == Some(&'/') && self.chars.get(i + 1) == Some(&'*') && i > self.pos {
            while self.pos < i {
                self.bump();
            }
        }
    }

    fn comment(&mut self, open_line: usize) -> Result<(), LexError> {
        self.pos += 2;
        loop {
            if self.pos >= self.chars.len() {
                return Err((open_line, "unclosed comment".to_owned()));
            }
            if self.starts_with("*/") {
                self.pos += 2;
                break;
            }
            self.bump();
        }
        if self.starts_with("}}") {
            self.pos += 2;
            return Ok(());
        }
        let mut i = self.pos;
        while self.chars.get(i).copied().is_some_and(is_space) {
            i += 1;
        }
        if i > self.pos
            && self.chars.get(i) == Some(&'-')
            && self.chars.get(i + 1) == Some(&'}')
            && self.chars.get(i + 2) == Some(&'}')
        {
            while self.pos < i + 3 {
                self.bump();
            }
            self.trim_next_text = true;
            return Ok(());
        }
        Err((self.line, "comment ends before closing delimiter".to_owned()))
    }

    fn action(&mut self, open_line: usize) -> Result<(), LexError> {
        let mut depth = 0usize;
        loop {
            // ` -}}`: the trim marker, only after a space.
            if self.peek(0).is_some_and(is_space) {
                let mut i = self.pos;
                while self.chars.get(i).copied().is_some_and(is_space) {
                    i += 1;
                }
                if self.chars.get(i) == Some(&'-')
                    && self.chars.get(i + 1) == Some(&'}')
                    && self.chars.get(i + 2) == Some(&'}')
                {
                    let line = self.line;
                    while self.pos < i + 3 {
                        self.bump();
                    }
                    if depth > 0 {
                        return Err((line, "unclosed left paren".to_owned()));
                    }
                    self.push(Tok::Close, line);
                    self.trim_next_text = true;
                    return Ok(());
                }
                self.bump();
                continue;
            }
            let line = self.line;
            let Some(c) = self.peek(0) else {
                return Err((open_line, "unclosed action".to_owned()));
            };
            if self.starts_with("}}") {
                if depth > 0 {
                    return Err((line, "unclosed left paren".to_owned()));
                }
                self.pos += 2;
                self.push(Tok::Close, line);
                return Ok(());
            }
            match c {
                '|' => {
                    self.pos += 1;
                    self.push(Tok::Pipe, line);
                }
                '(' => {
                    self.pos += 1;
                    depth += 1;
                    self.push(Tok::LParen, line);
                }
                ')' => {
                    self.pos += 1;
                    if depth == 0 {
                        return Err((line, "unexpected right paren".to_owned()));
                    }
                    depth -= 1;
                    self.push(Tok::RParen, line);
                    if self.peek(0) == Some('.') && self.peek(1).is_some_and(is_ident_char) {
                        let fields = self.fields();
                        self.push(Tok::Chain(fields), line);
                    }
                }
                ',' => {
                    self.pos += 1;
                    self.push(Tok::Comma, line);
                }
                ':' => {
                    if self.peek(1) != Some('=') {
                        return Err((line, "expected :=".to_owned()));
                    }
                    self.pos += 2;
                    self.push(Tok::Declare, line);
                }
                '=' => {
                    self.pos += 1;
                    self.push(Tok::Assign, line);
                }
                '"' => {
                    let s = self.quoted()?;
                    self.push(Tok::Str(s), line);
                }
                '`' => {
                    self.pos += 1;
                    let mut s = String::new();
                    loop {
                        match self.bump() {
                            None => return Err((line, "unterminated raw quoted string".to_owned())),
                            Some('`') => break,
                            Some('\r') => {}
                            Some(c) => s.push(c),
                        }
                    }
                    self.push(Tok::Str(s), line);
                }
                '\'' => {
                    let n = self.char_literal()?;
                    self.push(Tok::Int(n), line);
                }
                '$' => {
                    self.pos += 1;
                    let mut name = String::from("$");
                    while let Some(c) = self.peek(0).filter(|c| is_ident_char(*c)) {
                        name.push(c);
                        self.pos += 1;
                    }
                    let fields = if self.peek(0) == Some('.') && self.peek(1).is_some_and(is_ident_char) {
                        self.fields()
                    } else {
                        Vec::new()
                    };
                    self.push(Tok::Var(name, fields), line);
                }
                '.' => {
                    if self.peek(1).is_some_and(|c| c.is_ascii_digit()) {
                        let t = self.number()?;
                        self.push(t, line);
                    } else if self.peek(1).is_some_and(is_ident_char) {
                        let fields = self.fields();
                        self.push(Tok::Field(fields), line);
                    } else {
                        self.pos += 1;
                        self.push(Tok::Dot, line);
                    }
                }
                c if c.is_ascii_digit()
                    || ((c == '-' || c == '+')
                        && self.peek(1).is_some_and(|d| d.is_ascii_digit() || d == '.')) =>
                {
                    let t = self.number()?;
                    self.push(t, line);
                }
                c if is_ident_char(c) => {
                    let mut word = String::new();
                    while let Some(c) = self.peek(0).filter(|c| is_ident_char(*c)) {
                        word.push(c);
                        self.pos += 1;
                    }
                    self.push(Tok::Ident(word), line);
                }
                other => return Err((line, format!("unexpected {other:?} in command"))),
            }
        }
    }

    /// `.a.b.c` from the first dot.
    fn fields(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while self.peek(0) == Some('.') && self.peek(1).is_some_and(is_ident_char) {
            self.pos += 1;
            let mut name = String::new();
            while let Some(c) = self.peek(0).filter(|c| is_ident_char(*c)) {
                name.push(c);
                self.pos += 1;
            }
            out.push(name);
        }
        out
    }

    fn number(&mut self) -> Result<Tok, LexError> {
        let line = self.line;
        let mut text = String::new();
        while let Some(c) = self.peek(0) {
            let after_exp = matches!(text.chars().last(), Some('e' | 'E' | 'p' | 'P'))
                && !text.starts_with("0x")
                && !text.starts_with("0X");
            if c.is_ascii_alphanumeric()
                || c == '_'
                || c == '.'
                || ((c == '-' || c == '+') && (text.is_empty() || after_exp))
            {
                text.push(c);
                self.pos += 1;
            } else {
                break;
            }
        }
        parse_number(&text).ok_or((line, format!("bad number syntax: {text:?}")))
    }

    fn quoted(&mut self) -> Result<String, LexError> {
        let line = self.line;
        self.pos += 1;
        let mut s = String::new();
        loop {
            match self.bump() {
                None | Some('\n') => return Err((line, "unterminated quoted string".to_owned())),
                Some('"') => return Ok(s),
                Some('\\') => s.push(self.escape(line, '"')?),
                Some(c) => s.push(c),
            }
        }
    }

    fn char_literal(&mut self) -> Result<i64, LexError> {
        let line = self.line;
        self.pos += 1;
        let c = match self.bump() {
            Some('\\') => self.escape(line, '\'')?,
            Some('\'') | Some('\n') | None => return Err((line, "malformed character constant".to_owned())),
            Some(c) => c,
        };
        if self.bump() != Some('\'') {
            return Err((line, "malformed character constant".to_owned()));
        }
        Ok(i64::from(u32::from(c)))
    }

    fn escape(&mut self, line: usize, quote: char) -> Result<char, LexError> {
        let bad = || (line, "invalid escape in quoted string".to_owned());
        let c = self.bump().ok_or_else(bad)?;
        let hex = |lx: &mut Lexer, n: usize| -> Result<char, LexError> {
            let mut v = 0u32;
            for _ in 0..n {
                let d = lx.bump().and_then(|c| c.to_digit(16)).ok_or_else(bad)?;
                v = v * 16 + d;
            }
            char::from_u32(v).ok_or_else(bad)
        };
        Ok(match c {
            'a' => '\u{7}',
            'b' => '\u{8}',
            'f' => '\u{c}',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            'v' => '\u{b}',
            '\\' => '\\',
            c if c == quote => c,
            'x' => hex(self, 2)?,
            'u' => hex(self, 4)?,
            'U' => hex(self, 8)?,
            '0'..='7' => {
                let mut v = c.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    let d = self.bump().and_then(|c| c.to_digit(8)).ok_or_else(bad)?;
                    v = v * 8 + d;
                }
                char::from_u32(v).filter(|_| v < 256).ok_or_else(bad)?
            }
            _ => return Err(bad()),
        })
    }
}

/// A Go number literal: decimal, `0x`, `0o`, `0b` and leading-zero octal integers (with `_`
/// separators), and floats.
pub fn parse_number(text: &str) -> Option<Tok> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if body.is_empty() || body.starts_with('_') || body.ends_with('_') {
        return None;
    }
    let clean: String = body.chars().filter(|c| *c != '_').collect();
    let lower = clean.to_ascii_lowercase();
    let int = if let Some(h) = lower.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()
    } else if let Some(o) = lower.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()
    } else if let Some(b) = lower.strip_prefix("0b") {
        i64::from_str_radix(b, 2).ok()
    } else if lower.len() > 1 && lower.starts_with('0') && lower.chars().all(|c| c.is_ascii_digit()) {
        i64::from_str_radix(&lower[1..], 8).ok()
    } else if lower.chars().all(|c| c.is_ascii_digit()) {
        lower.parse::<i64>().ok()
    } else {
        None
    };
    if let Some(i) = int {
        return Some(Tok::Int(if neg { -i } else { i }));
    }
    if lower.starts_with("0x") || lower.contains("inf") || lower.contains("nan") {
        return None;
    }
    let f: f64 = lower.parse().ok()?;
    Some(Tok::Float(if neg { -f } else { f }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        lex(src).unwrap().into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn trim_markers_need_their_space() {
        assert_eq!(
            kinds("a  {{- 3 -}}  b"),
            [Tok::Text("a".into()), Tok::Open, Tok::Int(3), Tok::Close, Tok::Text("b".into())]
        );
        assert_eq!(kinds("a {{-3}}"), [Tok::Text("a ".into()), Tok::Open, Tok::Int(-3), Tok::Close]);
    }

    #[test]
    fn comments_vanish_and_may_trim() {
        assert_eq!(kinds("a {{- /* x\ny */ -}} b"), [Tok::Text("a".into()), Tok::Text("b".into())]);
        assert_eq!(kinds("{{/* c */}}x"), [Tok::Text("x".into())]);
        assert!(lex("{{/* c */ x}}").is_err());
    }

    #[test]
    fn literals_and_fields() {
        assert_eq!(
            kinds(r#"{{ .a.b $x.y $ "q\n\x41" `r\n` 'a' 0x1F 1_000 1.5e3 (.c).d }}"#),
            [
                Tok::Open,
                Tok::Field(vec!["a".into(), "b".into()]),
                Tok::Var("$x".into(), vec!["y".into()]),
                Tok::Var("$".into(), vec![]),
                Tok::Str("q\nA".into()),
                Tok::Str("r\\n".into()),
                Tok::Int(97),
                Tok::Int(31),
                Tok::Int(1000),
                Tok::Float(1500.0),
                Tok::LParen,
                Tok::Field(vec!["c".into()]),
                Tok::RParen,
                Tok::Chain(vec!["d".into()]),
                Tok::Close,
            ]
        );
    }

    #[test]
    fn lines_are_counted() {
        let toks = lex("a\nb\n{{ x }}").unwrap();
        assert_eq!(toks[1].line, 3);
    }
}
