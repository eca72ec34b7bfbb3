//! The volume ray caster's material: the shader's handle, its uniform (laid out as `Volume`
//! in `shaders/volume.wgsl`), the bindings (study texture, lookup table, brick grid) and the
//! pipeline's specialisation (back faces, no depth test, the `STORED_INT` variant for a study
//! uploaded as its stored integers). Drawn by `volume` and `volume_upload`; depends on
//! nothing else of the app.

use bevy::asset::RenderAssetUsages;
use bevy::mesh::MeshVertexBufferLayoutRef;
use bevy::pbr::{MaterialPipeline, MaterialPipelineKey};
use bevy::prelude::*;
use bevy::render::render_resource::{
    AsBindGroup, CompareFunction, Extent3d, Face, RenderPipelineDescriptor, ShaderType,
    SpecializedMeshPipelineError, TextureDimension, TextureFormat,
};
use bevy::shader::ShaderRef;

use crate::dvr::fit::Encoding;

/// The ray caster, compiled into the binary (also validated by `tests/shaders.rs`).
pub(super) const SHADER: Handle<Shader> =
    bevy::asset::uuid_handle!("7d0f2c35-4c0e-4f5c-9a51-3b1f6a2e9d47");

/// The shader's uniform (see `Volume` in `shaders/volume.wgsl`).
#[derive(Debug, Clone, Copy, Default, PartialEq, ShaderType)]
pub struct VolumeUniform {
    pub voxel_from_world: Mat4,
    pub dims: Vec4,
    pub brick_dims: Vec4,
    pub box_lo: Vec4,
    pub box_hi: Vec4,
    pub plane0: Vec4,
    pub plane1: Vec4,
    pub lut_range: Vec4,
    pub window: Vec4,
    pub params: Vec4,
    pub mode: Vec4,
}

/// The volume's material: the uniform, the study's texture (as 16-bit floats the sampler
/// filters, or as the stored integers in `stored`; the other is a one-texel stand-in), the
/// transfer function's lookup table and the brick grid.
#[derive(Asset, TypePath, AsBindGroup, Debug, Clone)]
#[bind_group_data(VolumeKey)]
pub struct VolumeMaterial {
    #[uniform(0)]
    pub uniform: VolumeUniform,
    #[texture(1, dimension = "3d")]
    #[sampler(2)]
    pub volume: Handle<Image>,
    #[texture(3)]
    #[sampler(4)]
    pub lut: Handle<Image>,
    #[texture(5, dimension = "3d", sample_type = "float", filterable = false)]
    pub bricks: Handle<Image>,
    #[texture(6, dimension = "3d", sample_type = "s_int")]
    pub stored: Handle<Image>,
    /// Which of `volume` and `stored` holds the study.
    pub encoding: Encoding,
}

/// The shader variant a material needs.
#[repr(C)]
#[derive(Eq, PartialEq, Hash, Copy, Clone)]
pub struct VolumeKey {
    stored_integers: bool,
}

impl From<&VolumeMaterial> for VolumeKey {
    fn from(m: &VolumeMaterial) -> Self {
        VolumeKey {
            stored_integers: m.encoding == Encoding::Int16,
        }
    }
}

impl VolumeMaterial {
    /// The material for a study's texture of this encoding; `stand_in` makes the one-texel
    /// texture of the other kind.
    pub fn new(
        uniform: VolumeUniform,
        study: Handle<Image>,
        encoding: Encoding,
        lut: Handle<Image>,
        bricks: Handle<Image>,
        images: &mut Assets<Image>,
    ) -> VolumeMaterial {
        let other = match encoding {
            Encoding::Float16 => Encoding::Int16,
            Encoding::Int16 => Encoding::Float16,
        };
        let stand_in = images.add(Image::new(
            Extent3d {
                width: 1,
                height: 1,
                depth_or_array_layers: 1,
            },
            TextureDimension::D3,
            vec![0, 0],
            texture_format(other),
            RenderAssetUsages::RENDER_WORLD,
        ));
        let (volume, stored) = match encoding {
            Encoding::Float16 => (study, stand_in),
            Encoding::Int16 => (stand_in, study),
        };
        VolumeMaterial {
            uniform,
            volume,
            lut,
            bricks,
            stored,
            encoding,
        }
    }
}

/// The texture format that holds texels of this encoding.
pub fn texture_format(encoding: Encoding) -> TextureFormat {
    match encoding {
        Encoding::Float16 => TextureFormat::R16Float,
        Encoding::Int16 => TextureFormat::R16Sint,
    }
}

impl Material for VolumeMaterial {
    fn fragment_shader() -> ShaderRef {
        ShaderRef::Handle(SHADER)
    }

    fn alpha_mode(&self) -> AlphaMode {
        // Straight alpha: with exact transparency Bevy then sets the shader def that sends
        // the ray's result to the fragment lists (its blended pass is the one with OIT).
        AlphaMode::Blend
    }

    fn enable_prepass() -> bool {
        false
    }

    fn enable_shadows() -> bool {
        false
    }

    fn specialize(
        _pipeline: &MaterialPipeline,
        descriptor: &mut RenderPipelineDescriptor,
        _layout: &MeshVertexBufferLayoutRef,
        key: MaterialPipelineKey<Self>,
    ) -> Result<(), SpecializedMeshPipelineError> {
        if key.bind_group_data.stored_integers
            && let Some(fragment) = descriptor.fragment.as_mut()
        {
            fragment.shader_defs.push("STORED_INT".into());
        }
        // The box's far faces start the rays (the eye may be inside it); the scene's depth
        // is read in the shader instead of tested, so a surface inside the volume still
        // shows the volume in front of it.
        descriptor.primitive.cull_mode = Some(Face::Front);
        if let Some(ds) = descriptor.depth_stencil.as_mut() {
            ds.depth_compare = Some(CompareFunction::Always);
            ds.depth_write_enabled = Some(false);
        }
        Ok(())
    }
}
