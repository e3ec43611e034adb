//! A whole HTTP body read into one buffer, sized by its `Content-Length` before the first byte arrives,
//! and refused past a limit: the RPC's requests and RegNakes' pages. A page of a thousand records is
//! about 700 kB; awc's own reader grew its buffer by doubling, which copied the page about once more
//! (`memmove` 5.1 → 3.7 % of an unchanged re-sync's server CPU without it, issue 22). Here each byte is
//! copied once, from the connection's chunks into the buffer that becomes the page's text.

use actix_web::http::header::{HeaderMap, CONTENT_LENGTH};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

#[derive(Debug, PartialEq, Eq)]
pub enum BodyError<E> {
    /// Longer than the limit, declared so or found so.
    TooLarge,
    /// The stream failed.
    Broken(E),
}

/// The length a message declares (`Content-Length`), when it declares one.
pub fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Reads `payload` to its end, at most `limit` bytes; `declared` sizes the buffer (a declared length
/// over the limit is refused at once).
pub async fn read_to_end<S, E>(
    payload: S,
    declared: Option<usize>,
    limit: usize,
) -> Result<Vec<u8>, BodyError<E>>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    if declared.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut payload = std::pin::pin!(payload);
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(BodyError::Broken)?;
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunks(parts: &[&'static str]) -> impl Stream<Item = Result<Bytes, &'static str>> {
        let parts: Vec<_> = parts
            .iter()
            .map(|p| Ok(Bytes::from_static(p.as_bytes())))
            .collect();
        futures_util::stream::iter(parts)
    }

    #[actix_rt::test]
    async fn a_body_is_read_whole_within_its_limit() {
        let read = |parts, declared, limit| read_to_end(chunks(parts), declared, limit);
        assert_eq!(
            read(&["ab", "", "cd"], Some(4), 4).await,
            Ok(b"abcd".to_vec())
        );
        // A declared length is only a hint for the buffer: what arrives counts.
        assert_eq!(read(&["abc"], Some(1), 4).await, Ok(b"abc".to_vec()));
        assert_eq!(read(&["abc"], None, 4).await, Ok(b"abc".to_vec()));
        assert_eq!(
            read(&["ab", "cde"], None, 4).await,
            Err(BodyError::TooLarge)
        );
        assert_eq!(read(&[], Some(5), 4).await, Err(BodyError::TooLarge));
        let broken = futures_util::stream::iter([Ok(Bytes::from_static(b"a")), Err("reset")]);
        assert_eq!(
            read_to_end(broken, None, 4).await,
            Err(BodyError::Broken("reset"))
        );
    }
}
