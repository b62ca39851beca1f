//! Query strings and form bodies read as GeoReport v2's parameters: bounded in size, each name
//! given once, only the names an endpoint knows (an unknown or repeated parameter is a 400 in
//! the spec's format, never silently dropped), and each value read into the domain's types.

use fieldsync_core::DocId;
use fieldsync_core::model::ReportCategory;

use crate::open311::{MAX_IDS, Open311Error, OpenClosed, time};

/// The longest query string read, in bytes.
pub(super) const MAX_QUERY_BYTES: usize = 8 * 1024;

/// The longest form body read, in bytes (a description of 4,000 Chinese characters is 36 KiB
/// percent-encoded).
pub(super) const MAX_FORM_BYTES: usize = 64 * 1024;

/// The longest value of one parameter, in bytes, before it is read further.
const MAX_VALUE_BYTES: usize = 40 * 1024;

/// The parameters of one request, each name once.
#[derive(Debug, Default)]
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    /// Reads `raw` (`a=1&b=2`), at most `max` bytes, taking only names in `known`.
    pub(super) fn parse(raw: &[u8], max: usize, known: &[&str]) -> Result<Params, Open311Error> {
        if raw.len() > max {
            return Err(Open311Error::bad("request", format!("parameters over {max} bytes")));
        }
        let mut out: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(raw) {
            if name.is_empty() && value.is_empty() {
                continue;
            }
            let shown: String = name.chars().take(40).collect();
            if name.starts_with("attribute[") {
                return Err(Open311Error::bad(shown, "no service of this server has attributes"));
            }
            if !known.contains(&name.as_ref()) {
                return Err(Open311Error::bad(shown, "is not a parameter of this endpoint"));
            }
            if out.iter().any(|(n, _)| *n == name) {
                return Err(Open311Error::bad(shown, "is given more than once"));
            }
            if value.len() > MAX_VALUE_BYTES {
                return Err(Open311Error::bad(shown, "is too long"));
            }
            out.push((name.into_owned(), value.into_owned()));
        }
        Ok(Params(out))
    }

    /// The value of `name`, if given and not empty.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
    }

    /// The comma-separated items of `name` (none when not given).
    fn list(&self, name: &str) -> Vec<&str> {
        self.get(name).map(|v| v.split(',').map(str::trim).collect()).unwrap_or_default()
    }

    /// `service_code` as a comma list of services.
    pub(super) fn services(&self) -> Result<Vec<ReportCategory>, Open311Error> {
        self.list("service_code")
            .into_iter()
            .map(|c| c.parse().map_err(|_| unknown_service(c)))
            .collect()
    }

    /// `service_code` as one service (required).
    pub(super) fn service(&self) -> Result<ReportCategory, Open311Error> {
        let code = self
            .get("service_code")
            .ok_or_else(|| Open311Error::bad("service_code", "is required"))?;
        code.parse().map_err(|_| unknown_service(code))
    }

    /// `service_request_id` as a comma list of ids.
    pub(super) fn ids(&self) -> Result<Vec<DocId>, Open311Error> {
        let items = self.list("service_request_id");
        if items.len() > MAX_IDS {
            return Err(Open311Error::bad(
                "service_request_id",
                format!("at most {MAX_IDS} ids at once"),
            ));
        }
        items
            .into_iter()
            .map(|id| {
                id.parse().map_err(|_| {
                    Open311Error::bad(
                        "service_request_id",
                        format!(
                            "{:?} is not a request id",
                            id.chars().take(40).collect::<String>()
                        ),
                    )
                })
            })
            .collect()
    }

    /// `status` as a comma list of `open` and `closed`.
    pub(super) fn states(&self) -> Result<Vec<OpenClosed>, Open311Error> {
        self.list("status")
            .into_iter()
            .map(|s| {
                OpenClosed::parse(s)
                    .ok_or_else(|| Open311Error::bad("status", "is open or closed (or both)"))
            })
            .collect()
    }

    /// A W3C date and time parameter.
    pub(super) fn time(&self, name: &str) -> Result<Option<i64>, Open311Error> {
        self.get(name)
            .map(|v| {
                time::parse(v).ok_or_else(|| {
                    Open311Error::bad(
                        name,
                        "is not a W3C date and time, e.g. 2026-12-05T10:30:00+08:00",
                    )
                })
            })
            .transpose()
    }

    /// A coordinate parameter within `-bound..=bound` degrees.
    pub(super) fn degrees(&self, name: &str, bound: f64) -> Result<Option<f64>, Open311Error> {
        self.get(name)
            .map(|v| match v.trim().parse::<f64>() {
                Ok(x) if x.is_finite() && (-bound..=bound).contains(&x) => Ok(x),
                _ => {
                    Err(Open311Error::bad(name, format!("is a number of degrees within ±{bound}")))
                }
            })
            .transpose()
    }
}

fn unknown_service(code: &str) -> Open311Error {
    Open311Error::bad(
        "service_code",
        format!("{:?} is not a service of this server", code.chars().take(40).collect::<String>()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KNOWN: &[&str] = &["api_key", "status", "service_code", "start_date", "lat"];

    #[test]
    fn names_are_known_and_given_once() {
        let p = Params::parse(b"api_key=k&status=open,closed", 100, KNOWN).unwrap();
        assert_eq!(p.get("api_key"), Some("k"));
        assert_eq!(p.states().unwrap(), [OpenClosed::Open, OpenClosed::Closed]);
        assert!(Params::parse(b"api_key=a&api_key=b", 100, KNOWN).is_err());
        assert!(Params::parse(b"nope=1", 100, KNOWN).is_err());
        assert!(Params::parse(b"attribute[x]=1", 100, KNOWN).is_err());
        assert!(Params::parse(&[b'a'; 101], 100, KNOWN).is_err());
        assert!(Params::parse(b"", 100, KNOWN).unwrap().get("api_key").is_none());
    }

    #[test]
    fn values_are_read_strictly() {
        let p = Params::parse(b"status=opened", 100, KNOWN).unwrap();
        assert!(p.states().is_err());
        let p = Params::parse(b"service_code=noise,roof", 100, KNOWN).unwrap();
        assert!(p.services().is_err());
        let p = Params::parse(b"start_date=yesterday", 100, KNOWN).unwrap();
        assert!(p.time("start_date").is_err());
        for bad in ["lat=91", "lat=NaN", "lat=inf", "lat=x", "lat=1e999"] {
            let p = Params::parse(bad.as_bytes(), 100, KNOWN).unwrap();
            assert!(p.degrees("lat", 90.0).is_err(), "{bad}");
        }
        let p = Params::parse(b"lat=43.88", 100, KNOWN).unwrap();
        assert_eq!(p.degrees("lat", 90.0).unwrap(), Some(43.88));
    }
}
