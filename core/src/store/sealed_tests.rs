//! Sealed files: written in pieces, read back whole and by range, damage found.

use super::*;

fn seal(dir: &Path, secret: &FileSecret, plain: &[u8]) -> Result<std::path::PathBuf> {
    let path = dir.join(format!("f{}", plain.len()));
    let mut w = SealedWriter::create(File::create(&path)?, secret)?;
    // Uneven pieces, as a download brings them.
    for piece in plain.chunks(7_777) {
        w.write_all(piece)?;
    }
    w.finish()?;
    Ok(path)
}

/// The file's plaintext read both ways (by chunk, and whole), which must agree.
fn read_all(path: &Path, secret: &FileSecret) -> Result<Vec<u8>> {
    let mut r = SealedReader::open(File::open(path)?, path, secret)?;
    let mut out = Vec::new();
    r.for_each_chunk(|c| out.extend_from_slice(c))?;
    let whole = SealedReader::open(File::open(path)?, path, secret)?.read_all()?;
    assert_eq!(whole, out, "read whole and by chunk");
    Ok(out)
}

fn sample(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn round_trips_at_chunk_edges() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let secret = FileSecret::generate();
    for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * 1024 * 1024 + 3] {
        let plain = sample(n);
        let path = seal(dir.path(), &secret, &plain)?;
        assert_eq!(std::fs::metadata(&path)?.len(), sealed_len(n as u64), "{n}");
        assert_eq!(read_all(&path, &secret)?, plain, "{n}");
        let r = SealedReader::open(File::open(&path)?, &path, &secret)?;
        assert_eq!(r.len(), n as u64);
    }
    Ok(())
}

#[test]
fn reads_any_range() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let secret = FileSecret::generate();
    let plain = sample(3 * CHUNK + 100);
    let path = seal(dir.path(), &secret, &plain)?;
    let mut r = SealedReader::open(File::open(&path)?, &path, &secret)?;
    for (at, n) in
        [(0, 1), (CHUNK - 3, 10), (CHUNK, CHUNK), (5, 3 * CHUNK + 95), (3 * CHUNK + 99, 1)]
    {
        let mut out = vec![0; n];
        r.read_at(at as u64, &mut out)?;
        assert_eq!(out, plain[at..at + n], "{at}+{n}");
    }
    let mut past = vec![0; 2];
    assert!(matches!(
        r.read_at(3 * CHUNK as u64 + 99, &mut past),
        Err(CoreError::InvalidInput { field: "range", .. })
    ));
    Ok(())
}

fn assert_damaged(path: &Path, secret: &FileSecret, what: &str) {
    let by_chunk = SealedReader::open(File::open(path).unwrap(), path, secret)
        .and_then(|mut r| r.for_each_chunk(|_| {}));
    let whole = SealedReader::open(File::open(path).unwrap(), path, secret)
        .and_then(SealedReader::read_all);
    match (by_chunk, whole) {
        (Err(CoreError::DamagedFile { .. }), Err(CoreError::DamagedFile { .. })) => {}
        other => panic!("{what}: {other:?}"),
    }
}

#[test]
fn damage_of_any_kind_is_a_typed_error() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let secret = FileSecret::generate();
    let plain = sample(3 * CHUNK + 100);
    let path = seal(dir.path(), &secret, &plain)?;
    let good = std::fs::read(&path)?;
    let sc = SEALED_CHUNK as usize;
    let h = HEADER as usize;

    let mut flipped = good.clone();
    flipped[h + sc + 17] ^= 1;
    std::fs::write(&path, &flipped)?;
    assert_damaged(&path, &secret, "a flipped byte");
    // The chunks before the damage still read; the damaged one never does.
    let mut r = SealedReader::open(File::open(&path)?, &path, &secret)?;
    let mut first = vec![0; CHUNK];
    r.read_at(0, &mut first)?;
    assert!(matches!(r.read_at(CHUNK as u64, &mut first), Err(CoreError::DamagedFile { .. })));

    std::fs::write(&path, &good[..h + 2 * sc])?;
    assert_damaged(&path, &secret, "cut at a chunk boundary");
    std::fs::write(&path, &good[..good.len() - 1])?;
    assert_damaged(&path, &secret, "cut inside the last chunk");
    std::fs::write(&path, &good[..h + 5])?;
    assert_damaged(&path, &secret, "cut inside the first tag");

    let mut swapped = good[..h].to_vec();
    swapped.extend_from_slice(&good[h + sc..h + 2 * sc]);
    swapped.extend_from_slice(&good[h..h + sc]);
    swapped.extend_from_slice(&good[h + 2 * sc..]);
    std::fs::write(&path, &swapped)?;
    assert_damaged(&path, &secret, "two chunks swapped");

    let mut dropped = good[..h].to_vec();
    dropped.extend_from_slice(&good[h + sc..]);
    std::fs::write(&path, &dropped)?;
    assert_damaged(&path, &secret, "a chunk left out");

    let mut salt = good.clone();
    salt[MAGIC_LEN] ^= 1;
    std::fs::write(&path, &salt)?;
    assert_damaged(&path, &secret, "another salt");

    std::fs::write(&path, &good)?;
    assert_damaged(&path, &FileSecret::generate(), "another secret");
    assert_eq!(read_all(&path, &secret)?, plain);
    Ok(())
}

#[test]
fn a_cut_write_resumes_at_its_last_whole_chunk() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let secret = FileSecret::generate();
    let plain = sample(2 * CHUNK + 500);
    let path = dir.path().join("partial");
    let mut w = SealedWriter::create(File::create(&path)?, &secret)?;
    w.write_all(&plain[..CHUNK])?;
    assert_eq!(w.kept(), 0, "a full chunk waits for the next byte");
    w.write_all(&plain[CHUNK..CHUNK + 20])?;
    assert_eq!(w.kept(), CHUNK as u64);
    drop(w);
    let open = || File::options().read(true).write(true).open(&path);
    let (mut w, kept) = SealedWriter::resume(open()?, &secret)?;
    assert_eq!(kept, CHUNK as u64);
    w.write_all(&plain[CHUNK..])?;
    w.finish()?;
    assert_eq!(read_all(&path, &secret)?, plain);
    // A finished file resumed keeps its whole chunks only.
    let (w, kept) = SealedWriter::resume(open()?, &secret)?;
    assert_eq!(kept, 2 * CHUNK as u64);
    drop(w);
    Ok(())
}

/// Files sealed before version 2 (ChaCha20-Poly1305) still read, damage in them is still
/// found, and a cut one continues in its own version; a new or restarted file is version 2.
#[test]
fn version_1_files_read_and_resume_in_their_version() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let secret = FileSecret::generate();
    let plain = sample(2 * CHUNK + 300);
    let path = dir.path().join("v1");
    let open = || File::options().read(true).write(true).open(&path);
    let mut w = SealedWriter::create_in(File::create(&path)?, &secret, &V1)?;
    w.write_all(&plain[..CHUNK + 10])?;
    drop(w);
    let (mut w, kept) = SealedWriter::resume(open()?, &secret)?;
    assert_eq!(kept, CHUNK as u64);
    w.write_all(&plain[CHUNK..])?;
    w.finish()?;
    assert_eq!(&std::fs::read(&path)?[..MAGIC_LEN], V1.magic);
    assert_eq!(read_all(&path, &secret)?, plain);

    let mut flipped = std::fs::read(&path)?;
    flipped[HEADER as usize + 3] ^= 1;
    std::fs::write(&path, &flipped)?;
    assert_damaged(&path, &secret, "a flipped byte of a version 1 file");

    // Chunks sealed under one version never open under the other: the magic is the
    // associated data and the HKDF info differs.
    let mut relabelled = std::fs::read(seal(dir.path(), &secret, &plain)?)?;
    relabelled[..MAGIC_LEN].copy_from_slice(V1.magic);
    std::fs::write(&path, &relabelled)?;
    assert_damaged(&path, &secret, "a version 2 file relabelled version 1");

    let (mut w, _) = SealedWriter::resume(open()?, &secret)?;
    w.restart(&secret)?;
    w.write_all(&plain)?;
    w.finish()?;
    assert_eq!(&std::fs::read(&path)?[..MAGIC_LEN], CURRENT.magic);
    assert_eq!(read_all(&path, &secret)?, plain);
    Ok(())
}
