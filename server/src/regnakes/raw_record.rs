//! A record as the registry sent it: its text is a slice of its page's body, which all the page's
//! records share. A page of a thousand records is then the body as received and one vector, not a
//! thousand allocations of a kilobyte or more (each of which also made glibc consolidate its free lists:
//! together 15 % of a full sync's CPU).

use super::page_scan::{KeyPlaces, ScannedRecord};
use serde_json::value::RawValue;
use std::sync::Arc;

#[derive(Clone)]
pub struct RawRecord {
    body: Arc<String>,
    start: u32,
    end: u32,
    /// Where its keys lie, when the page's scan noted them.
    places: Option<KeyPlaces>,
}

impl RawRecord {
    /// The record's JSON text, as sent.
    pub fn get(&self) -> &str {
        &self.body[self.start as usize..self.end as usize]
    }

    /// Where its `str` and `updated_at` lie, when its page's scan noted them (`page_scan`).
    pub fn key_places(&self) -> Option<&KeyPlaces> {
        self.places.as_ref()
    }

    /// A record of its own (a test's, a stored one read back); `None` when `json` is not JSON.
    pub fn from_string(json: String) -> Option<RawRecord> {
        let end = serde_json::from_str::<&RawValue>(&json).ok()?.get().len();
        let body = Arc::new(json);
        let start = body.len() - body.trim_start().len();
        Some(RawRecord {
            start: start as u32,
            end: (start + end) as u32,
            body,
            places: None,
        })
    }

    /// The records of a page: `raw` are the values `body` holds (parsed from it), each kept as its
    /// place in the body. `None` when one of them is not a slice of `body`, or the body is too large to
    /// be addressed (neither happens with values parsed from it).
    pub fn slices_of(body: &Arc<String>, raw: &[&RawValue]) -> Option<Vec<RawRecord>> {
        let base = body.as_ptr() as usize;
        raw.iter()
            .map(|value| {
                let text = value.get();
                let start = (text.as_ptr() as usize).checked_sub(base)?;
                let end = start.checked_add(text.len())?;
                (end <= body.len()).then_some(())?;
                Some(RawRecord {
                    body: body.clone(),
                    start: u32::try_from(start).ok()?,
                    end: u32::try_from(end).ok()?,
                    places: None,
                })
            })
            .collect()
    }

    /// The records of a page as its scan found them (`page_scan::scan(body)`).
    pub fn scanned(body: &Arc<String>, scanned: Vec<ScannedRecord>) -> Vec<RawRecord> {
        scanned
            .into_iter()
            .map(|record| RawRecord {
                body: body.clone(),
                start: record.start,
                end: record.end,
                places: record.places,
            })
            .collect()
    }
}

impl std::fmt::Debug for RawRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_the_slices_of_the_body_they_were_parsed_from() {
        let body = Arc::new(r#"{"data": [ {"a": 1}, "x",{"b":[2]} ]}"#.to_string());
        #[derive(serde::Deserialize)]
        struct Envelope<'a> {
            #[serde(borrow)]
            data: Vec<&'a RawValue>,
        }
        let envelope: Envelope = serde_json::from_str(&body).unwrap();
        let records = RawRecord::slices_of(&body, &envelope.data).unwrap();
        let texts: Vec<&str> = records.iter().map(RawRecord::get).collect();
        assert_eq!(texts, [r#"{"a": 1}"#, r#""x""#, r#"{"b":[2]}"#]);

        let elsewhere = serde_json::from_str::<&RawValue>("{}").unwrap();
        assert!(RawRecord::slices_of(&body, &[elsewhere]).is_none());
    }

    #[test]
    fn a_record_of_its_own() {
        assert_eq!(
            RawRecord::from_string(" {\"a\": 1} ".into()).unwrap().get(),
            "{\"a\": 1}"
        );
        assert!(RawRecord::from_string("{".into()).is_none());
    }
}
