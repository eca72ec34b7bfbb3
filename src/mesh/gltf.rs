//! The twin as glTF 2.0 binary (`.glb`), for any glTF viewer or VR headset: each structure a
//! named mesh node with its colour and opacity, landmarks as named nodes (a small marker
//! each), measurement lines and catheter paths as named line nodes. The document is built
//! with `gltf-json` and packed by `gltf`'s GLB writer; nothing is written by hand.
//!
//! Coordinates: glTF is in metres, right-handed, +Y up, the asset facing +Z. Patient LPS
//! millimetres map as `(x, y, z)_glTF = (L, S, A) / 1000 = (x_LPS, z_LPS, −y_LPS) / 1000`:
//! superior is up, the patient faces the viewer (+Z), the patient's left is +X. It is a
//! rotation (determinant +1), so triangle winding and outward normals are kept. No patient
//! identity goes into the file: names are the structures' and markups' own.
//! Depends on `mesh` only; no I/O but the caller's.

use std::borrow::Cow;
use std::collections::BTreeMap;

use gltf_json as json;
use json::validation::Checked::Valid;
use json::validation::USize64;

use super::TriMesh;

/// Patient LPS mm → glTF metres (see the module's comment).
pub fn gltf_from_lps(p: [f64; 3]) -> [f32; 3] {
    [
        (p[0] / 1000.0) as f32,
        (p[2] / 1000.0) as f32,
        (-p[1] / 1000.0) as f32,
    ]
}

/// The same rotation for a direction (normals).
fn direction_from_lps(n: [f32; 3]) -> [f32; 3] {
    let [x, y, z] = n;
    let len = (x * x + y * y + z * z).sqrt();
    if !(len.is_finite() && len > 1e-12) {
        return [0.0, 1.0, 0.0];
    }
    [x / len, z / len, -y / len]
}

/// A surface of the twin.
pub struct Surface<'a> {
    pub name: String,
    pub mesh: &'a TriMesh,
    /// sRGB 0–1.
    pub colour: [f32; 3],
    pub opacity: f32,
}

/// A polyline of the twin (a distance, an angle's arms, a curve, a catheter path).
pub struct Polyline {
    pub name: String,
    pub points_lps_mm: Vec<[f64; 3]>,
    pub colour: [f32; 3],
    /// Joins the last point to the first (a closed contour).
    pub closed: bool,
}

/// A named point of the twin (a landmark).
pub struct Landmark {
    pub name: String,
    pub position_lps_mm: [f64; 3],
    pub colour: [f32; 3],
}

/// What goes into the file.
#[derive(Default)]
pub struct Twin<'a> {
    pub surfaces: Vec<Surface<'a>>,
    pub lines: Vec<Polyline>,
    pub landmarks: Vec<Landmark>,
}

#[derive(Debug, thiserror::Error)]
pub enum GltfError {
    #[error("the twin holds nothing to export")]
    Empty,
    #[error("the twin is too large for one glTF binary file (over 4 GiB)")]
    TooLarge,
    #[error("glTF could not be written: {0}")]
    Encode(String),
}

/// The landmark marker: an octahedron 2 mm across (in metres, about its centre).
const MARKER_MM: f32 = 1.0;

struct Builder {
    root: json::Root,
    bin: Vec<u8>,
    buffer: json::Index<json::Buffer>,
}

impl Builder {
    fn new() -> Builder {
        let mut root = json::Root::default();
        root.asset.generator = Some(format!("twinplan {}", env!("CARGO_PKG_VERSION")));
        // The byte length is set once everything is in.
        let buffer = root.push(json::Buffer {
            byte_length: USize64(0),
            extensions: None,
            extras: Default::default(),
            name: None,
            uri: None,
        });
        Builder {
            root,
            bin: Vec::new(),
            buffer,
        }
    }

    /// Appends bytes (4-aligned) as a buffer view.
    fn view(
        &mut self,
        bytes: &[u8],
        target: json::buffer::Target,
    ) -> json::Index<json::buffer::View> {
        while !self.bin.len().is_multiple_of(4) {
            self.bin.push(0);
        }
        let offset = self.bin.len();
        self.bin.extend_from_slice(bytes);
        self.root.push(json::buffer::View {
            buffer: self.buffer,
            byte_length: USize64::from(bytes.len()),
            byte_offset: Some(USize64::from(offset)),
            byte_stride: None,
            extensions: None,
            extras: Default::default(),
            name: None,
            target: Some(Valid(target)),
        })
    }

    fn accessor(
        &mut self,
        view: json::Index<json::buffer::View>,
        count: usize,
        component: json::accessor::ComponentType,
        type_: json::accessor::Type,
        bounds: Option<([f32; 3], [f32; 3])>,
    ) -> json::Index<json::Accessor> {
        self.root.push(json::Accessor {
            buffer_view: Some(view),
            byte_offset: Some(USize64(0)),
            count: USize64::from(count),
            component_type: Valid(json::accessor::GenericComponentType(component)),
            extensions: None,
            extras: Default::default(),
            type_: Valid(type_),
            min: bounds.map(|(lo, _)| json::Value::from(lo.to_vec())),
            max: bounds.map(|(_, hi)| json::Value::from(hi.to_vec())),
            name: None,
            normalized: false,
            sparse: None,
        })
    }

    fn positions(&mut self, points: &[[f32; 3]]) -> json::Index<json::Accessor> {
        let mut lo = [f32::INFINITY; 3];
        let mut hi = [f32::NEG_INFINITY; 3];
        for p in points {
            for a in 0..3 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
        }
        let view = self.view(
            bytemuck::cast_slice(points),
            json::buffer::Target::ArrayBuffer,
        );
        self.accessor(
            view,
            points.len(),
            json::accessor::ComponentType::F32,
            json::accessor::Type::Vec3,
            Some((lo, hi)),
        )
    }

    fn normals(&mut self, normals: &[[f32; 3]]) -> json::Index<json::Accessor> {
        let view = self.view(
            bytemuck::cast_slice(normals),
            json::buffer::Target::ArrayBuffer,
        );
        self.accessor(
            view,
            normals.len(),
            json::accessor::ComponentType::F32,
            json::accessor::Type::Vec3,
            None,
        )
    }

    fn material(
        &mut self,
        name: &str,
        colour: [f32; 3],
        opacity: f32,
    ) -> json::Index<json::Material> {
        let opacity = opacity.clamp(0.0, 1.0);
        // glTF's base colour is linear.
        let linear = colour.map(|c| {
            let c = c.clamp(0.0, 1.0);
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        });
        self.root.push(json::Material {
            alpha_mode: Valid(if opacity < 1.0 {
                json::material::AlphaMode::Blend
            } else {
                json::material::AlphaMode::Opaque
            }),
            double_sided: opacity < 1.0,
            name: Some(name.to_string()),
            pbr_metallic_roughness: json::material::PbrMetallicRoughness {
                base_color_factor: json::material::PbrBaseColorFactor([
                    linear[0], linear[1], linear[2], opacity,
                ]),
                metallic_factor: json::material::StrengthFactor(0.0),
                roughness_factor: json::material::StrengthFactor(0.6),
                ..Default::default()
            },
            ..Default::default()
        })
    }

    fn node(
        &mut self,
        name: &str,
        mesh: json::Index<json::Mesh>,
        at: Option<[f32; 3]>,
    ) -> json::Index<json::Node> {
        self.root.push(json::Node {
            mesh: Some(mesh),
            name: Some(name.to_string()),
            translation: at,
            ..Default::default()
        })
    }

    fn mesh(&mut self, name: &str, primitive: json::mesh::Primitive) -> json::Index<json::Mesh> {
        self.root.push(json::Mesh {
            extensions: None,
            extras: Default::default(),
            name: Some(name.to_string()),
            primitives: vec![primitive],
            weights: None,
        })
    }
}

fn primitive(
    positions: json::Index<json::Accessor>,
    normals: Option<json::Index<json::Accessor>>,
    indices: Option<json::Index<json::Accessor>>,
    material: json::Index<json::Material>,
    mode: json::mesh::Mode,
) -> json::mesh::Primitive {
    let mut attributes = BTreeMap::new();
    attributes.insert(Valid(json::mesh::Semantic::Positions), positions);
    if let Some(n) = normals {
        attributes.insert(Valid(json::mesh::Semantic::Normals), n);
    }
    json::mesh::Primitive {
        attributes,
        extensions: None,
        extras: Default::default(),
        indices,
        material: Some(material),
        mode: Valid(mode),
        targets: None,
    }
}

/// Landmarks: one marker shape (an octahedron about the origin, flat-shaded), one mesh per
/// colour, a node per landmark placed at it.
fn add_landmarks(
    b: &mut Builder,
    landmarks: &[Landmark],
    nodes: &mut Vec<json::Index<json::Node>>,
) {
    if landmarks.is_empty() {
        return;
    }
    // One marker shape (an octahedron about the origin), placed by each node.
    let r = MARKER_MM / 1000.0;
    let corners: [[f32; 3]; 6] = [
        [r, 0.0, 0.0],
        [-r, 0.0, 0.0],
        [0.0, r, 0.0],
        [0.0, -r, 0.0],
        [0.0, 0.0, r],
        [0.0, 0.0, -r],
    ];
    let faces: [[u32; 3]; 8] = [
        [0, 2, 4],
        [2, 1, 4],
        [1, 3, 4],
        [3, 0, 4],
        [2, 0, 5],
        [1, 2, 5],
        [3, 1, 5],
        [0, 3, 5],
    ];
    // Each face its own vertices, with the face's normal (flat shading).
    let mut points = Vec::new();
    let mut normals = Vec::new();
    for f in faces {
        let [a, b2, c] = f.map(|i| corners[i as usize]);
        let n = [
            a[0] + b2[0] + c[0],
            a[1] + b2[1] + c[1],
            a[2] + b2[2] + c[2],
        ];
        let len = (n[0] * n[0] + n[1] * n[1] + n[2] * n[2]).sqrt();
        for p in [a, b2, c] {
            points.push(p);
            normals.push(n.map(|v| v / len));
        }
    }
    let positions = b.positions(&points);
    let normals = b.normals(&normals);
    let mut by_colour: Vec<([f32; 3], json::Index<json::Mesh>)> = Vec::new();
    for l in landmarks {
        let mesh = match by_colour.iter().find(|(c, _)| *c == l.colour) {
            Some((_, m)) => *m,
            None => {
                let material = b.material("landmark", l.colour, 1.0);
                let m = b.mesh(
                    "landmark marker",
                    primitive(
                        positions,
                        Some(normals),
                        None,
                        material,
                        json::mesh::Mode::Triangles,
                    ),
                );
                by_colour.push((l.colour, m));
                m
            }
        };
        nodes.push(b.node(&l.name, mesh, Some(gltf_from_lps(l.position_lps_mm))));
    }
}

/// The twin as a `.glb` file's bytes.
pub fn to_glb(twin: &Twin) -> Result<Vec<u8>, GltfError> {
    let mut b = Builder::new();
    let mut nodes = Vec::new();
    for s in &twin.surfaces {
        if s.mesh.indices.is_empty() {
            continue;
        }
        let points: Vec<[f32; 3]> = s
            .mesh
            .positions_mm
            .iter()
            .map(|&p| gltf_from_lps(p))
            .collect();
        let normals: Vec<[f32; 3]> = (0..points.len())
            .map(|i| direction_from_lps(s.mesh.normals.get(i).copied().unwrap_or([0.0; 3])))
            .collect();
        let positions = b.positions(&points);
        let normals = b.normals(&normals);
        let flat: Vec<u32> = s.mesh.indices.iter().flatten().copied().collect();
        let view = b.view(
            bytemuck::cast_slice(&flat),
            json::buffer::Target::ElementArrayBuffer,
        );
        let indices = b.accessor(
            view,
            flat.len(),
            json::accessor::ComponentType::U32,
            json::accessor::Type::Scalar,
            None,
        );
        let material = b.material(&s.name, s.colour, s.opacity);
        let mesh = b.mesh(
            &s.name,
            primitive(
                positions,
                Some(normals),
                Some(indices),
                material,
                json::mesh::Mode::Triangles,
            ),
        );
        nodes.push(b.node(&s.name, mesh, None));
    }
    for l in &twin.lines {
        let mut points: Vec<[f32; 3]> = l.points_lps_mm.iter().map(|&p| gltf_from_lps(p)).collect();
        if points.len() < 2 {
            continue;
        }
        if l.closed {
            points.push(points[0]);
        }
        let positions = b.positions(&points);
        let material = b.material(&l.name, l.colour, 1.0);
        let mesh = b.mesh(
            &l.name,
            primitive(positions, None, None, material, json::mesh::Mode::LineStrip),
        );
        nodes.push(b.node(&l.name, mesh, None));
    }
    add_landmarks(&mut b, &twin.landmarks, &mut nodes);
    if nodes.is_empty() {
        return Err(GltfError::Empty);
    }
    let scene = b.root.push(json::Scene {
        extensions: None,
        extras: Default::default(),
        name: Some("twin".into()),
        nodes,
    });
    b.root.scene = Some(scene);
    while !b.bin.len().is_multiple_of(4) {
        b.bin.push(0);
    }
    if b.bin.len() > u32::MAX as usize - (1 << 20) {
        return Err(GltfError::TooLarge);
    }
    b.root.buffers[0].byte_length = USize64::from(b.bin.len());
    let text = json::serialize::to_string(&b.root).map_err(|e| GltfError::Encode(e.to_string()))?;
    let glb = gltf::binary::Glb {
        header: gltf::binary::Header {
            magic: *b"glTF",
            version: 2,
            // Computed again by the writer.
            length: 0,
        },
        json: Cow::Owned(text.into_bytes()),
        bin: Some(Cow::Owned(b.bin)),
    };
    glb.to_vec().map_err(|e| GltfError::Encode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lps_maps_to_y_up_metres_as_a_rotation() {
        assert_eq!(gltf_from_lps([1000.0, 0.0, 0.0]), [1.0, 0.0, 0.0]);
        // Superior is up, anterior (−y in LPS) is +Z.
        assert_eq!(gltf_from_lps([0.0, 0.0, 500.0]), [0.0, 0.5, 0.0]);
        assert_eq!(gltf_from_lps([0.0, -250.0, 0.0]), [0.0, 0.0, 0.25]);
        // The images of the axes form a right-handed frame (no mirror).
        let x = gltf_from_lps([1000.0, 0.0, 0.0]);
        let y = gltf_from_lps([0.0, 1000.0, 0.0]);
        let z = gltf_from_lps([0.0, 0.0, 1000.0]);
        let cross = [
            x[1] * y[2] - x[2] * y[1],
            x[2] * y[0] - x[0] * y[2],
            x[0] * y[1] - x[1] * y[0],
        ];
        assert_eq!(cross, z);
    }

    #[test]
    fn a_twin_reads_back_with_its_names_bounds_and_materials() {
        let cube = crate::mesh::TriMesh {
            positions_mm: vec![
                [0.0, 0.0, 0.0],
                [10.0, 0.0, 0.0],
                [0.0, 20.0, 0.0],
                [0.0, 0.0, 30.0],
            ],
            normals: vec![[0.0, 0.0, -1.0]; 4],
            indices: vec![[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]],
        };
        let twin = Twin {
            surfaces: vec![Surface {
                name: "vessels".into(),
                mesh: &cube,
                colour: [0.8, 0.1, 0.1],
                opacity: 0.4,
            }],
            lines: vec![Polyline {
                name: "Aorta diameter".into(),
                points_lps_mm: vec![[0.0, 0.0, 0.0], [0.0, 0.0, 25.0]],
                colour: [1.0, 1.0, 0.0],
                closed: false,
            }],
            landmarks: vec![Landmark {
                name: "Iliac bifurcation".into(),
                position_lps_mm: [5.0, -5.0, 5.0],
                colour: [0.0, 1.0, 0.0],
            }],
        };
        let bytes = to_glb(&twin).expect("written");
        let glb = gltf::binary::Glb::from_slice(&bytes).expect("a GLB");
        let root: json::Root = json::deserialize::from_slice(&glb.json).expect("json");
        let names: Vec<&str> = root
            .nodes
            .iter()
            .filter_map(|n| n.name.as_deref())
            .collect();
        assert_eq!(names, ["vessels", "Aorta diameter", "Iliac bifurcation"]);
        let acc = &root.accessors[root.meshes[0].primitives[0].attributes
            [&Valid(json::mesh::Semantic::Positions)]
            .value()];
        assert_eq!(acc.min, Some(json::Value::from(vec![0.0f32, 0.0, -0.02])));
        assert_eq!(acc.max, Some(json::Value::from(vec![0.01f32, 0.03, 0.0])));
        let m = &root.materials[0];
        assert_eq!(m.alpha_mode, Valid(json::material::AlphaMode::Blend));
        assert_eq!(m.pbr_metallic_roughness.base_color_factor.0[3], 0.4);
        assert_eq!(root.nodes[2].translation, Some([0.005, 0.005, 0.005]));
        assert_eq!(
            glb.bin.map(|b| b.len()),
            Some(root.buffers[0].byte_length.0 as usize)
        );
        assert!(matches!(to_glb(&Twin::default()), Err(GltfError::Empty)));
    }
}
