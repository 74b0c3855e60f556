//! Outputs that appear complete or not at all: every file is written to a
//! temporary file beside its destination, and only when all are written
//! are they renamed into place (a rename within a directory is atomic), so
//! a failure half-way leaves the destinations as they were.

use std::io::Write;
use std::path::{Path, PathBuf};

use reloop_core::{Error, Result};
use tempfile::NamedTempFile;

/// Files to write together.
#[derive(Debug, Default)]
pub struct Outputs {
    files: Vec<(PathBuf, Vec<u8>)>,
}

impl Outputs {
    /// Adds a file (replacing an earlier one of the same path).
    pub fn add(&mut self, path: impl Into<PathBuf>, bytes: impl Into<Vec<u8>>) {
        let path = path.into();
        self.files.retain(|(p, _)| *p != path);
        self.files.push((path, bytes.into()));
    }

    /// The paths, in the order added.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.files.iter().map(|(p, _)| p.as_path())
    }

    /// Writes every file to a temporary beside it, then renames them all
    /// into place.
    ///
    /// # Errors
    /// A directory that cannot be created or a file that cannot be written;
    /// no destination is touched then.
    pub fn commit(self) -> Result<()> {
        let io = |path: &Path, e: std::io::Error| Error::input(format!("{}: {e}", path.display()));
        let mut staged = Vec::with_capacity(self.files.len());
        for (path, bytes) in &self.files {
            let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
            let mut tmp = NamedTempFile::new_in(dir).map_err(|e| io(dir, e))?;
            tmp.write_all(bytes).and_then(|()| tmp.as_file().sync_all()).map_err(|e| io(path, e))?;
            // A temporary file is private (0600); outputs get a plain file's mode.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::Permissions::from_mode(0o644);
                tmp.as_file().set_permissions(mode).map_err(|e| io(path, e))?;
            }
            staged.push((tmp, path));
        }
        for (tmp, path) in staged {
            tmp.persist(path).map_err(|e| io(path, e.error))?;
        }
        Ok(())
    }
}
