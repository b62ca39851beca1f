//! Feed positions as this server writes them: `c<seq>.<row>` during a catch-up (documents whole,
//! in storage order, after position `row`; the log resumes at `seq` when the catch-up ends),
//! `r<seq>.<row>.<held>` during the catch-up after a change of rights (the same, leaving out
//! what the rights tagged `held` let the device read; see [`super::rescope`]) and `l<seq>` in
//! the log, each followed by `~<view>`, the tag of the rights it was issued under
//! ([`Cursor::parse_tagged`], [`Cursor::tagged`]). Clients treat them as opaque.

use std::fmt;

use fieldsync_core::protocol::limits;

/// A position in the feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// `""`: nothing read yet; a catch-up starts.
    Start,
    /// Catching up: documents after `row`, then the log after `seq`.
    CatchUp {
        /// Where the log resumes once the catch-up ends.
        seq: u64,
        /// The last document sent, in storage order.
        row: i64,
    },
    /// Catching up after the device's rights changed: documents after `row` that it could
    /// not read under the rights tagged `held`, then the log after `seq` (where its feed was
    /// when the rights changed).
    Rescope {
        /// Where the log resumes once the catch-up ends.
        seq: u64,
        /// The last document sent, in storage order.
        row: i64,
        /// The tag of the rights the device's feed was read under before ([`super::rescope`]).
        held: u64,
    },
    /// In the log, after `seq`.
    Log {
        /// The last seq read.
        seq: u64,
    },
}

/// A cursor this server did not write (it is shown, cut to the protocol's token length).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cursor {0:?} is not one this server wrote")]
pub struct InvalidCursor(pub String);

fn number<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl Cursor {
    /// Parses a cursor a client sent.
    pub fn parse(s: &str) -> Result<Cursor, InvalidCursor> {
        let bad = || InvalidCursor(s.chars().take(limits::TOKEN_CHARS).collect());
        if s.is_empty() {
            return Ok(Cursor::Start);
        }
        if s.len() > limits::TOKEN_CHARS {
            return Err(bad());
        }
        if let Some(rest) = s.strip_prefix('l') {
            return number(rest).map(|seq| Cursor::Log { seq }).ok_or_else(bad);
        }
        if let Some(rest) = s.strip_prefix('c') {
            let (seq, row) = rest.split_once('.').ok_or_else(bad)?;
            let seq = number(seq).ok_or_else(bad)?;
            let row = number::<i64>(row).ok_or_else(bad)?;
            return Ok(Cursor::CatchUp { seq, row });
        }
        if let Some(rest) = s.strip_prefix('r') {
            let mut parts = rest.split('.');
            let (Some(seq), Some(row), Some(held), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                return Err(bad());
            };
            let seq = number(seq).ok_or_else(bad)?;
            let row = number::<i64>(row).ok_or_else(bad)?;
            let held = super::rescope::tag_number(held).ok_or_else(bad)?;
            return Ok(Cursor::Rescope { seq, row, held });
        }
        Err(bad())
    }

    /// The log seq this cursor has reached or will resume at.
    pub fn seq(&self) -> u64 {
        match self {
            Cursor::Start => 0,
            Cursor::CatchUp { seq, .. } | Cursor::Rescope { seq, .. } | Cursor::Log { seq } => *seq,
        }
    }
}

impl Cursor {
    /// Parses a cursor with the tag of the rights it was issued under (`<position>~<view>`);
    /// a cursor without one (written before tags, or `""`) has `None`.
    pub fn parse_tagged(s: &str) -> Result<(Cursor, Option<&str>), InvalidCursor> {
        match s.split_once('~') {
            Some((position, view)) => Ok((Cursor::parse(position)?, Some(view))),
            None => Ok((Cursor::parse(s)?, None)),
        }
    }

    /// The cursor as sent to a device acting with rights tagged `view`.
    pub fn tagged(&self, view: &str) -> String {
        format!("{self}~{view}")
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cursor::Start => Ok(()),
            Cursor::CatchUp { seq, row } => write!(f, "c{seq}.{row}"),
            Cursor::Rescope { seq, row, held } => write!(f, "r{seq}.{row}.{held:016x}"),
            Cursor::Log { seq } => write!(f, "l{seq}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_the_rest() {
        for c in [
            Cursor::Start,
            Cursor::CatchUp { seq: 42, row: 7 },
            Cursor::Rescope { seq: 42, row: 7, held: 0x00ab_cdef_0123_4567 },
            Cursor::Log { seq: 0 },
        ] {
            assert_eq!(Cursor::parse(&c.to_string()).unwrap(), c);
        }
        assert_eq!(Cursor::parse("l123").unwrap(), Cursor::Log { seq: 123 });
        for bad in [
            "l",
            "l-1",
            "l+1",
            "lx",
            "l.42",
            "c1",
            "c1.",
            "c.1",
            "c1.-1",
            "x1",
            "l 1",
            "l99999999999999999999",
            "L1",
            "r1.2",
            "r1.2.00abcdef01234567.3",
            "r1.2.abcdef01234567",
            "r1.2.00abcdef0123456x",
            "r1.-2.00abcdef01234567",
        ] {
            assert!(matches!(Cursor::parse(bad), Err(InvalidCursor(_))), "{bad}");
        }
        assert!(Cursor::parse(&format!("l{}", "0".repeat(200))).is_err());
    }

    #[test]
    fn carries_the_rights_tag() {
        let c = Cursor::CatchUp { seq: 3, row: 9 };
        assert_eq!(Cursor::parse_tagged(&c.tagged("ab12")).unwrap(), (c, Some("ab12")));
        assert_eq!(Cursor::parse_tagged("l5").unwrap(), (Cursor::Log { seq: 5 }, None));
        assert!(Cursor::parse_tagged("lx~ab12").is_err(), "the position is still checked");
    }
}
