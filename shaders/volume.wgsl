// twinplan's volume ray caster: the fragment stage of the volume's bounding box (its back
// faces are drawn, depth test off, so the camera may be inside it), marching each pixel's
// ray in voxel space from where it enters the box (crop box and clip planes applied) to
// where it leaves, or to the opaque scene in front (the depth prepass), whichever is first.
//
// Composite: front-to-back through the 1D transfer function (opacity per mm, corrected for
// the step), central-difference gradient shading with the view's headlight, early ray
// termination. MIP / MinIP: the largest / smallest value through the display window.
// Empty-space skipping: the brick texture holds each 8³ brick's (min, max, visible); a ray
// jumps over bricks that show nothing (composite) or cannot change its extreme (MIP/MinIP).
// The first sample is jittered per pixel against wood-grain.
//
// The vertex stage is Bevy's mesh shader (the box's corners are in patient mm), so only the
// part of Bevy's view uniform this stage reads is declared here (`View`, laid out as Bevy
// 0.19's `bevy_render::view::View`), and the depth prepass texture where Bevy binds it.
// Parsed and validated with naga by `tests/shaders.rs`; drawn by `app::volume`.

struct View {
    clip_from_world: mat4x4<f32>,
    unjittered_clip_from_world: mat4x4<f32>,
    world_from_clip: mat4x4<f32>,
    world_from_view: mat4x4<f32>,
    view_from_world: mat4x4<f32>,
    clip_from_view: mat4x4<f32>,
    view_from_clip: mat4x4<f32>,
    world_position: vec3<f32>,
    exposure: f32,
    // x, y origin and width, height of the viewport, pixels.
    viewport: vec4<f32>,
};

@group(0) @binding(0) var<uniform> view: View;

#ifdef DEPTH_PREPASS
#ifdef MULTISAMPLED
@group(0) @binding(20) var depth_prepass_texture: texture_depth_multisampled_2d;
#else
@group(0) @binding(20) var depth_prepass_texture: texture_depth_2d;
#endif
#endif

struct Volume {
    // Patient mm → continuous voxel index (texel centres at integers).
    voxel_from_world: mat4x4<f32>,
    // Texels along x, y, z; w: texels per brick side.
    dims: vec4<f32>,
    // Bricks along x, y, z.
    brick_dims: vec4<f32>,
    // Crop box in voxel index space (within −0.5 … dims − 0.5).
    box_lo: vec4<f32>,
    box_hi: vec4<f32>,
    // Two half-spaces in voxel space kept where dot(xyz, p) + w ≥ 0 (clip at cursor, slab).
    plane0: vec4<f32>,
    plane1: vec4<f32>,
    // Value range the lookup table spans: x = lo, y = hi.
    lut_range: vec4<f32>,
    // Display window for MIP / MinIP: x = lo, y = hi.
    window: vec4<f32>,
    // x: step (mm), y: opacity unit distance (mm), z: shading on (1) / off, w: jitter on.
    params: vec4<f32>,
    // x: mode (0 composite, 1 MIP, 2 MinIP); y, z, w: unused.
    mode: vec4<f32>,
};

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> volume: Volume;
@group(#{MATERIAL_BIND_GROUP}) @binding(1) var volume_texture: texture_3d<f32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(2) var volume_sampler: sampler;
@group(#{MATERIAL_BIND_GROUP}) @binding(3) var lut_texture: texture_2d<f32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(4) var lut_sampler: sampler;
@group(#{MATERIAL_BIND_GROUP}) @binding(5) var brick_texture: texture_3d<f32>;

struct FragmentIn {
    @builtin(position) frag_coord: vec4<f32>,
    @location(0) world_position: vec4<f32>,
};

const BIG: f32 = 1.0e30;
const MIN_OPACITY: f32 = 0.001953125;
const OPAQUE: f32 = 0.985;

// Value at a continuous voxel position (trilinear).
fn sample_at(p: vec3<f32>) -> f32 {
    let uvw = (p + vec3<f32>(0.5)) / volume.dims.xyz;
    return textureSampleLevel(volume_texture, volume_sampler, uvw, 0.0).r;
}

fn srgb_to_linear(c: vec3<f32>) -> vec3<f32> {
    let lo = c / 12.92;
    let hi = pow((c + vec3<f32>(0.055)) / 1.055, vec3<f32>(2.4));
    return select(hi, lo, c <= vec3<f32>(0.04045));
}

// Interleaved gradient noise: a different sub-step start for neighbouring pixels.
fn jitter(frag: vec2<f32>) -> f32 {
    return fract(52.9829189 * fract(dot(frag, vec2<f32>(0.06711056, 0.00583715))));
}

// Ray parameter interval (mm from the eye) inside the box lo..hi.
fn box_interval(o: vec3<f32>, inv_d: vec3<f32>, lo: vec3<f32>, hi: vec3<f32>) -> vec2<f32> {
    let ta = (lo - o) * inv_d;
    let tb = (hi - o) * inv_d;
    let tmin = min(ta, tb);
    let tmax = max(ta, tb);
    return vec2<f32>(max(max(tmin.x, tmin.y), tmin.z), min(min(tmax.x, tmax.y), tmax.z));
}

// Narrows (t0, t1) to where dot(n, o + t d) + c ≥ 0.
fn clip_plane(span: vec2<f32>, plane: vec4<f32>, o: vec3<f32>, d: vec3<f32>) -> vec2<f32> {
    let nd = dot(plane.xyz, d);
    let v0 = dot(plane.xyz, o) + plane.w;
    if abs(nd) < 1.0e-12 {
        return select(vec2<f32>(1.0, 0.0), span, v0 >= 0.0);
    }
    let t = -v0 / nd;
    if nd > 0.0 {
        return vec2<f32>(max(span.x, t), span.y);
    }
    return vec2<f32>(span.x, min(span.y, t));
}

// Where the opaque scene is along the ray (mm from the eye), or BIG.
fn scene_distance(frag: vec4<f32>, eye: vec3<f32>, dir: vec3<f32>) -> f32 {
#ifdef DEPTH_PREPASS
    let depth = textureLoad(depth_prepass_texture, vec2<i32>(frag.xy), 0);
    if depth <= 0.0 {
        return BIG;
    }
    let uv = (frag.xy - view.viewport.xy) / view.viewport.zw;
    let ndc = vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, depth, 1.0);
    let w = view.world_from_clip * ndc;
    return dot(w.xyz / w.w - eye, dir);
#else
    return BIG;
#endif
}

// Gradient in patient space (per mm) from central differences in voxel space.
fn gradient(p: vec3<f32>, m: mat3x3<f32>) -> vec3<f32> {
    let g = vec3<f32>(
        sample_at(p + vec3<f32>(1.0, 0.0, 0.0)) - sample_at(p - vec3<f32>(1.0, 0.0, 0.0)),
        sample_at(p + vec3<f32>(0.0, 1.0, 0.0)) - sample_at(p - vec3<f32>(0.0, 1.0, 0.0)),
        sample_at(p + vec3<f32>(0.0, 0.0, 1.0)) - sample_at(p - vec3<f32>(0.0, 0.0, 1.0)),
    ) * 0.5;
    // ∂f/∂x_world = (∂v/∂x_world)ᵀ ∂f/∂v.
    return transpose(m) * g;
}

// The brick a point lies in: its texel (min, max, visible) and where the ray leaves it.
struct Brick {
    texel: vec4<f32>,
    t_exit: f32,
};

fn brick_at(p: vec3<f32>, o: vec3<f32>, inv_d: vec3<f32>) -> Brick {
    let side = volume.dims.w;
    let last = vec3<i32>(volume.brick_dims.xyz) - vec3<i32>(1);
    let b = clamp(vec3<i32>(floor((p + vec3<f32>(0.5)) / side)), vec3<i32>(0), last);
    let lo = vec3<f32>(b) * side - vec3<f32>(0.5);
    return Brick(textureLoad(brick_texture, b, 0), box_interval(o, inv_d, lo, lo + vec3<f32>(side)).y);
}

// The largest (`largest`) or smallest value along the ray from t to t1, starting from the
// window's floor (MIP) or top (MinIP), which anything beyond shows as black or white anyway.
// Bricks that cannot change it are jumped; the march ends once the window saturates.
fn project(o: vec3<f32>, d: vec3<f32>, inv_d: vec3<f32>, t_start: f32, t1: f32, dt: f32, largest: bool) -> f32 {
    let inv_dims = 1.0 / volume.dims.xyz;
    // Texture coordinates and their step: one multiply-add per sample.
    let duvw = d * dt * inv_dims;
    let sign = select(-1.0, 1.0, largest);
    // Work on ±value so one max() serves both.
    var best = sign * select(volume.window.y, volume.window.x, largest);
    let saturated = sign * select(volume.window.x, volume.window.y, largest);
    var t = t_start;
    var guard = 0u;
    loop {
        if t >= t1 || best >= saturated || guard > 4096u {
            break;
        }
        guard += 1u;
        let p = o + t * d;
        let here = brick_at(p, o, inv_d);
        let brick = here.texel;
        // Samples up to the brick's far face (at least one, so a ray on a face moves on).
        let n = max(ceil((min(here.t_exit, t1) - t) / dt), 1.0);
        if sign * select(brick.x, brick.y, largest) > best {
            var uvw = (p + vec3<f32>(0.5)) * inv_dims;
            for (var i = 0.0; i < n; i += 1.0) {
                best = max(best, sign * textureSampleLevel(volume_texture, volume_sampler, uvw, 0.0).r);
                uvw += duvw;
            }
        }
        t += n * dt;
    }
    return sign * best;
}

// Front-to-back compositing through the lookup table from t to t1, shaded; bricks that show
// nothing are jumped; the march ends once the pixel is opaque.
fn composite(o: vec3<f32>, d: vec3<f32>, inv_d: vec3<f32>, dir: vec3<f32>, t_start: f32, t1: f32, dt: f32, m: mat3x3<f32>) -> vec4<f32> {
    let inv_dims = 1.0 / volume.dims.xyz;
    let duvw = d * dt * inv_dims;
    let lut_lo = volume.lut_range.x;
    let lut_scale = 1.0 / max(volume.lut_range.y - volume.lut_range.x, 1.0e-6);
    let opacity_exponent = dt / volume.params.y;
    let shade = volume.params.z > 0.5;
    var acc = vec4<f32>(0.0);
    var t = t_start;
    var guard = 0u;
    loop {
        if t >= t1 || acc.a >= OPAQUE || guard > 4096u {
            break;
        }
        guard += 1u;
        let p = o + t * d;
        let here = brick_at(p, o, inv_d);
        let brick = here.texel;
        // Samples up to the brick's far face (at least one, so a ray on a face moves on).
        let n = max(ceil((min(here.t_exit, t1) - t) / dt), 1.0);
        if brick.z > 0.5 {
            var uvw = (p + vec3<f32>(0.5)) * inv_dims;
            for (var i = 0.0; i < n; i += 1.0) {
                let v = textureSampleLevel(volume_texture, volume_sampler, uvw, 0.0).r;
                let c = textureSampleLevel(lut_texture, lut_sampler, vec2<f32>((v - lut_lo) * lut_scale, 0.5), 0.0);
                if c.a >= MIN_OPACITY {
                    let alpha = 1.0 - pow(max(1.0 - c.a, 0.0), opacity_exponent);
                    var colour = c.rgb;
                    if shade {
                        let g = gradient(uvw * volume.dims.xyz - vec3<f32>(0.5), m);
                        let len = length(g);
                        if len > 1.0e-3 {
                            let facing = abs(dot(g / len, dir));
                            colour = colour * (0.3 + 0.7 * facing) + vec3<f32>(0.25 * pow(facing, 24.0));
                        }
                    }
                    acc += vec4<f32>(colour * alpha, alpha) * (1.0 - acc.a);
                    if acc.a >= OPAQUE {
                        break;
                    }
                }
                uvw += duvw;
            }
        }
        t += n * dt;
    }
    return acc;
}

@fragment
fn fragment(in: FragmentIn) -> @location(0) vec4<f32> {
    let eye = view.world_position;
    let dir = normalize(in.world_position.xyz - eye);
    let m4 = volume.voxel_from_world;
    let m = mat3x3<f32>(m4[0].xyz, m4[1].xyz, m4[2].xyz);
    let o = (m4 * vec4<f32>(eye, 1.0)).xyz;
    let d = m * dir;
    // Axis-parallel rays: a huge inverse, never a division by zero.
    let safe_d = select(d, vec3<f32>(1.0e-20), abs(d) < vec3<f32>(1.0e-20));
    let inv_d = 1.0 / safe_d;

    var span = box_interval(o, inv_d, volume.box_lo.xyz, volume.box_hi.xyz);
    span.x = max(span.x, 0.0);
    span = clip_plane(span, volume.plane0, o, d);
    span = clip_plane(span, volume.plane1, o, d);
    span.y = min(span.y, scene_distance(in.frag_coord, eye, dir));
    if span.y <= span.x {
        discard;
    }

    let dt = volume.params.x;
    let mode = u32(volume.mode.x + 0.5);

    var t = span.x + dt * select(0.5, jitter(in.frag_coord.xy), volume.params.w > 0.5);
    if mode != 0u {
        let extreme = project(o, d, inv_d, t, span.y, dt, mode == 1u);
        let grey = clamp((extreme - volume.window.x) / max(volume.window.y - volume.window.x, 1.0e-6), 0.0, 1.0);
        // MIP as light over what lies behind (premultiplied: over black the pixel is exactly
        // the window's grey; dark parts let the surfaces behind show). MinIP is opaque.
        let alpha = select(1.0, grey, mode == 1u);
        return vec4<f32>(srgb_to_linear(vec3<f32>(grey)), alpha);
    }
    let acc = composite(o, d, inv_d, dir, t, span.y, dt, m);
    if acc.a <= 0.0 {
        discard;
    }
    // Colours are display (sRGB) values composited as such, as in VTK and Slicer; the
    // target stores linear light.
    let shown = srgb_to_linear(clamp(acc.rgb / acc.a, vec3<f32>(0.0), vec3<f32>(1.0)));
    return vec4<f32>(shown * acc.a, acc.a);
}
