//! Mesh files: binary STL (mm), OBJ and binary PLY with normals; readers for round trips.
//!
//! Files carry geometry only: headers say "twinplan", never patient identity. Writes are
//! atomic (temporary file, then rename). STL stores f32 triangle soup, so reading welds
//! identical positions back into shared vertices. Depends on `TriMesh` and `fsutil` only.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::TriMesh;

#[derive(Debug, thiserror::Error)]
pub enum MeshIoError {
    #[error("cannot write ({message}): {path}")]
    Write { message: String, path: PathBuf },
    #[error("cannot read ({message}): {path}")]
    Read { message: String, path: PathBuf },
    #[error("unknown mesh format (use .stl, .obj or .ply): {path}")]
    Format { path: PathBuf },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MeshFormat {
    Stl,
    Obj,
    Ply,
}

impl MeshFormat {
    pub fn from_path(path: &Path) -> Option<MeshFormat> {
        let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
        match ext.as_str() {
            "stl" => Some(MeshFormat::Stl),
            "obj" => Some(MeshFormat::Obj),
            "ply" => Some(MeshFormat::Ply),
            _ => None,
        }
    }
}

fn f32x3(v: [f64; 3]) -> [f32; 3] {
    [v[0] as f32, v[1] as f32, v[2] as f32]
}

/// A binary STL of the mesh (patient mm), as `write_mesh` writes it.
pub fn encode_stl(mesh: &TriMesh) -> Vec<u8> {
    let mut out = Vec::with_capacity(84 + mesh.indices.len() * 50);
    let mut header = [b' '; 80];
    let text = b"twinplan binary STL, units mm, LPS";
    header[..text.len()].copy_from_slice(text);
    out.extend_from_slice(&header);
    out.extend_from_slice(&(mesh.indices.len() as u32).to_le_bytes());
    for t in &mesh.indices {
        let p = t.map(|v| nalgebra::Vector3::from(mesh.positions_mm[v as usize]));
        let n = (p[1] - p[0]).cross(&(p[2] - p[0]));
        let n = if n.norm() > 0.0 { n.normalize() } else { n };
        for v in [n.x, n.y, n.z] {
            out.extend_from_slice(&(v as f32).to_le_bytes());
        }
        for v in t {
            for c in f32x3(mesh.positions_mm[*v as usize]) {
                out.extend_from_slice(&c.to_le_bytes());
            }
        }
        out.extend_from_slice(&0u16.to_le_bytes());
    }
    out
}

fn encode_obj(mesh: &TriMesh) -> Vec<u8> {
    let mut s = String::with_capacity(mesh.positions_mm.len() * 60 + mesh.indices.len() * 30);
    s.push_str("# twinplan mesh, units mm, LPS\n");
    for p in &mesh.positions_mm {
        let _ = writeln!(s, "v {} {} {}", p[0], p[1], p[2]);
    }
    for n in &mesh.normals {
        let _ = writeln!(s, "vn {} {} {}", n[0], n[1], n[2]);
    }
    let with_normals = mesh.normals.len() == mesh.positions_mm.len();
    for t in &mesh.indices {
        let [a, b, c] = t.map(|v| v + 1);
        if with_normals {
            let _ = writeln!(s, "f {a}//{a} {b}//{b} {c}//{c}");
        } else {
            let _ = writeln!(s, "f {a} {b} {c}");
        }
    }
    s.into_bytes()
}

fn encode_ply(mesh: &TriMesh) -> Vec<u8> {
    let header = format!(
        "ply\nformat binary_little_endian 1.0\ncomment twinplan mesh, units mm, LPS\nelement vertex {}\nproperty float x\nproperty float y\nproperty float z\nproperty float nx\nproperty float ny\nproperty float nz\nelement face {}\nproperty list uchar int vertex_indices\nend_header\n",
        mesh.positions_mm.len(),
        mesh.indices.len()
    );
    let mut out = header.into_bytes();
    for (i, p) in mesh.positions_mm.iter().enumerate() {
        let n = mesh.normals.get(i).copied().unwrap_or([0.0; 3]);
        for c in f32x3(*p).into_iter().chain(n) {
            out.extend_from_slice(&c.to_le_bytes());
        }
    }
    for t in &mesh.indices {
        out.push(3);
        for v in t {
            out.extend_from_slice(&(*v as i32).to_le_bytes());
        }
    }
    out
}

/// Writes `mesh` in the format named by the file's extension.
pub fn write_mesh(mesh: &TriMesh, path: &Path) -> Result<(), MeshIoError> {
    // A coordinate that is not a number makes a file every other tool misreads.
    if let Some(n) = mesh.positions_mm.iter().position(|p| {
        !p.iter()
            .all(|c| c.is_finite() && c.abs() < f64::from(f32::MAX))
    }) {
        return Err(MeshIoError::Write {
            message: format!("vertex {n} is not a finite position; nothing written"),
            path: path.to_path_buf(),
        });
    }
    let bytes = match MeshFormat::from_path(path) {
        Some(MeshFormat::Stl) => encode_stl(mesh),
        Some(MeshFormat::Obj) => encode_obj(mesh),
        Some(MeshFormat::Ply) => encode_ply(mesh),
        None => {
            return Err(MeshIoError::Format {
                path: path.to_path_buf(),
            });
        }
    };
    crate::fsutil::write_atomic(path, &bytes).map_err(|e| MeshIoError::Write {
        message: e.kind().to_string(),
        path: path.to_path_buf(),
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let s = self.bytes.get(self.at..self.at + n)?;
        self.at += n;
        Some(s)
    }
    fn f32(&mut self) -> Option<f32> {
        self.take(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
}

fn decode_stl(bytes: &[u8]) -> Option<TriMesh> {
    let mut r = Reader { bytes, at: 80 };
    let n = r.u32()? as usize;
    if bytes.len() < 84 + n.checked_mul(50)? {
        return None;
    }
    let mut mesh = TriMesh::default();
    let mut weld: HashMap<[u32; 3], u32> = HashMap::new();
    for _ in 0..n {
        r.take(12)?;
        let mut t = [0u32; 3];
        for v in &mut t {
            let p = [r.f32()?, r.f32()?, r.f32()?];
            let key = p.map(f32::to_bits);
            *v = *weld.entry(key).or_insert_with(|| {
                mesh.positions_mm.push(p.map(f64::from));
                mesh.positions_mm.len() as u32 - 1
            });
        }
        r.take(2)?;
        mesh.indices.push(t);
    }
    mesh.recompute_normals();
    Some(mesh)
}

fn decode_obj(bytes: &[u8]) -> Option<TriMesh> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut mesh = TriMesh::default();
    for line in text.lines() {
        let mut parts = line.split_whitespace();
        match parts.next() {
            Some("v") => {
                let v: Vec<f64> = parts
                    .take(3)
                    .map(|s| s.parse().ok())
                    .collect::<Option<_>>()?;
                mesh.positions_mm
                    .push([*v.first()?, *v.get(1)?, *v.get(2)?]);
            }
            Some("vn") => {
                let v: Vec<f32> = parts
                    .take(3)
                    .map(|s| s.parse().ok())
                    .collect::<Option<_>>()?;
                mesh.normals.push([*v.first()?, *v.get(1)?, *v.get(2)?]);
            }
            Some("f") => {
                let v: Vec<u32> = parts
                    .map(|s| {
                        s.split('/')
                            .next()
                            .and_then(|i| i.parse::<u32>().ok())
                            .and_then(|i| i.checked_sub(1))
                    })
                    .collect::<Option<_>>()?;
                if v.len() != 3 || v.iter().any(|&i| i as usize >= mesh.positions_mm.len()) {
                    return None;
                }
                mesh.indices.push([v[0], v[1], v[2]]);
            }
            _ => {}
        }
    }
    Some(mesh)
}

fn decode_ply(bytes: &[u8]) -> Option<TriMesh> {
    let end = bytes.windows(11).position(|w| w == b"end_header\n")? + 11;
    let header = std::str::from_utf8(&bytes[..end]).ok()?;
    let count = |name: &str| -> Option<usize> {
        header
            .lines()
            .find(|l| l.starts_with(&format!("element {name} ")))?
            .split_whitespace()
            .nth(2)?
            .parse()
            .ok()
    };
    let (nv, nf) = (count("vertex")?, count("face")?);
    let mut r = Reader { bytes, at: end };
    let mut mesh = TriMesh::default();
    for _ in 0..nv {
        let p = [r.f32()?, r.f32()?, r.f32()?];
        let n = [r.f32()?, r.f32()?, r.f32()?];
        mesh.positions_mm.push(p.map(f64::from));
        mesh.normals.push(n);
    }
    for _ in 0..nf {
        if r.take(1)? != [3] {
            return None;
        }
        let t = [r.u32()?, r.u32()?, r.u32()?];
        if t.iter().any(|&i| i as usize >= nv) {
            return None;
        }
        mesh.indices.push(t);
    }
    Some(mesh)
}

/// Reads an STL (binary), OBJ or PLY (binary, as written by [`write_mesh`]) file.
pub fn read_mesh(path: &Path) -> Result<TriMesh, MeshIoError> {
    let format = MeshFormat::from_path(path).ok_or_else(|| MeshIoError::Format {
        path: path.to_path_buf(),
    })?;
    crate::fsutil::regular_file(path, "a mesh file", 4 << 30).map_err(|e| MeshIoError::Read {
        message: e.to_string(),
        path: path.to_path_buf(),
    })?;
    let bytes = std::fs::read(path).map_err(|e| MeshIoError::Read {
        message: e.kind().to_string(),
        path: path.to_path_buf(),
    })?;
    let mesh = match format {
        MeshFormat::Stl => decode_stl(&bytes),
        MeshFormat::Obj => decode_obj(&bytes),
        MeshFormat::Ply => decode_ply(&bytes),
    };
    mesh.ok_or_else(|| MeshIoError::Read {
        message: "malformed or truncated".into(),
        path: path.to_path_buf(),
    })
}
