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
// The study is either real values as 16-bit floats, interpolated by the sampler, or (shader
// def STORED_INT) the stored 16-bit integers, read with textureLoad, interpolated here and
// scaled by the rescale slope and intercept: exact where a float rounds, and nothing to
// convert before upload.
//
// With exact transparency (Bevy's order-independent transparency on the camera: shader def
// OIT_ENABLED, set for this material's blended pass), the ray's result joins the per-pixel
// fragment lists the resolve pass sorts, as one fragment at the ray's opacity-weighted depth
// (MIP / MinIP: the depth of the extreme), so a translucent surface behind the volume is
// composited behind it and one in front over it. The fragment-list bindings are declared
// here as Bevy 0.19 binds them (`bevy_pbr::mesh_view_bindings`, 26–30), with the node packed
// as its resolve pass reads it (RGB9E5 colour, 24-bit depth and 8-bit alpha).
//
// Output is straight (not premultiplied) alpha, blended with the usual alpha blending.
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

#ifdef OIT_ENABLED
struct OitSettings {
    sorted_fragment_max_count: u32,
    fragments_per_pixel_average: f32,
    alpha_threshold: f32,
};

struct OitNode {
    color: u32,
    depth_alpha: u32,
    next: u32,
};

@group(0) @binding(26) var<uniform> oit_settings: OitSettings;
@group(0) @binding(27) var<uniform> oit_nodes_capacity: u32;
@group(0) @binding(28) var<storage, read_write> oit_nodes: array<OitNode>;
@group(0) @binding(29) var<storage, read_write> oit_heads: array<atomic<u32>>;
@group(0) @binding(30) var<storage, read_write> oit_atomic_counter: atomic<u32>;
#endif

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
    // x: mode (0 composite, 1 MIP, 2 MinIP); y, z: texel → value slope and intercept (the
    // stored integers); w: unused.
    mode: vec4<f32>,
};

@group(#{MATERIAL_BIND_GROUP}) @binding(0) var<uniform> volume: Volume;
@group(#{MATERIAL_BIND_GROUP}) @binding(1) var volume_texture: texture_3d<f32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(2) var volume_sampler: sampler;
@group(#{MATERIAL_BIND_GROUP}) @binding(3) var lut_texture: texture_2d<f32>;
@group(#{MATERIAL_BIND_GROUP}) @binding(4) var lut_sampler: sampler;
@group(#{MATERIAL_BIND_GROUP}) @binding(5) var brick_texture: texture_3d<f32>;
#ifdef STORED_INT
@group(#{MATERIAL_BIND_GROUP}) @binding(6) var stored_texture: texture_3d<i32>;
#endif

struct FragmentIn {
    @builtin(position) frag_coord: vec4<f32>,
    @location(0) world_position: vec4<f32>,
};

const BIG: f32 = 1.0e30;
const MIN_OPACITY: f32 = 0.001953125;
const OPAQUE: f32 = 0.985;

// Value at texture coordinates uvw (trilinear, clamped to the edge texels).
fn fetch(uvw: vec3<f32>) -> f32 {
#ifdef STORED_INT
    let p = uvw * volume.dims.xyz - vec3<f32>(0.5);
    let base = floor(p);
    let f = p - base;
    let last = vec3<i32>(volume.dims.xyz) - vec3<i32>(1);
    let a = clamp(vec3<i32>(base), vec3<i32>(0), last);
    let b = clamp(vec3<i32>(base) + vec3<i32>(1), vec3<i32>(0), last);
    let c000 = f32(textureLoad(stored_texture, a, 0).r);
    let c100 = f32(textureLoad(stored_texture, vec3<i32>(b.x, a.y, a.z), 0).r);
    let c010 = f32(textureLoad(stored_texture, vec3<i32>(a.x, b.y, a.z), 0).r);
    let c110 = f32(textureLoad(stored_texture, vec3<i32>(b.x, b.y, a.z), 0).r);
    let c001 = f32(textureLoad(stored_texture, vec3<i32>(a.x, a.y, b.z), 0).r);
    let c101 = f32(textureLoad(stored_texture, vec3<i32>(b.x, a.y, b.z), 0).r);
    let c011 = f32(textureLoad(stored_texture, vec3<i32>(a.x, b.y, b.z), 0).r);
    let c111 = f32(textureLoad(stored_texture, b, 0).r);
    let y0 = mix(mix(c000, c100, f.x), mix(c010, c110, f.x), f.y);
    let y1 = mix(mix(c001, c101, f.x), mix(c011, c111, f.x), f.y);
    return volume.mode.y * mix(y0, y1, f.z) + volume.mode.z;
#else
    return textureSampleLevel(volume_texture, volume_sampler, uvw, 0.0).r;
#endif
}

// Value at a continuous voxel position (trilinear).
fn sample_at(p: vec3<f32>) -> f32 {
    return fetch((p + vec3<f32>(0.5)) / volume.dims.xyz);
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
// A ray's result: premultiplied colour (composite) or the extreme value in x (MIP / MinIP),
// and the distance along the ray that stands for its depth.
struct Ray {
    value: vec4<f32>,
    t: f32,
};

fn project(o: vec3<f32>, d: vec3<f32>, inv_d: vec3<f32>, t_start: f32, t1: f32, dt: f32, largest: bool) -> Ray {
    let inv_dims = 1.0 / volume.dims.xyz;
    // Texture coordinates and their step: one multiply-add per sample.
    let duvw = d * dt * inv_dims;
    let sign = select(-1.0, 1.0, largest);
    // Work on ±value so one max() serves both.
    var best = sign * select(volume.window.y, volume.window.x, largest);
    let saturated = sign * select(volume.window.x, volume.window.y, largest);
    var t = t_start;
    var t_best = t_start;
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
#ifdef OIT_ENABLED
                let v = sign * fetch(uvw);
                if v > best {
                    best = v;
                    t_best = t + i * dt;
                }
#else
                best = max(best, sign * fetch(uvw));
#endif
                uvw += duvw;
            }
        }
        t += n * dt;
    }
    return Ray(vec4<f32>(sign * best, 0.0, 0.0, 0.0), t_best);
}

// Front-to-back compositing through the lookup table from t to t1, shaded; bricks that show
// nothing are jumped; the march ends once the pixel is opaque.
fn composite(o: vec3<f32>, d: vec3<f32>, inv_d: vec3<f32>, dir: vec3<f32>, t_start: f32, t1: f32, dt: f32, m: mat3x3<f32>) -> Ray {
    let inv_dims = 1.0 / volume.dims.xyz;
    let duvw = d * dt * inv_dims;
    let lut_lo = volume.lut_range.x;
    let lut_scale = 1.0 / max(volume.lut_range.y - volume.lut_range.x, 1.0e-6);
    let opacity_exponent = dt / volume.params.y;
    let shade = volume.params.z > 0.5;
    var acc = vec4<f32>(0.0);
    // Σ weight · distance, the weights being each sample's share of the pixel's opacity.
    var t_weighted = 0.0;
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
                let v = fetch(uvw);
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
                    let weight = alpha * (1.0 - acc.a);
                    t_weighted += weight * (t + i * dt);
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
    return Ray(acc, t_weighted / max(acc.a, 1.0e-6));
}

// The pixel: straight colour (linear light) and alpha, its depth that of `point`. With
// exact transparency it goes to the fragment lists instead, and the pixel is discarded.
fn emit(frag: vec4<f32>, linear: vec3<f32>, alpha: f32, point: vec3<f32>) -> vec4<f32> {
#ifdef OIT_ENABLED
    let clip = view.clip_from_world * vec4<f32>(point, 1.0);
    oit_push(frag.xy, clip.z / clip.w, vec4<f32>(linear, alpha));
    discard;
    return vec4<f32>(0.0);
#else
    return vec4<f32>(linear, alpha);
#endif
}

#ifdef OIT_ENABLED
// Shared-exponent packing (RGB9E5: three 9-bit mantissas, one 5-bit exponent of bias 15).
fn pack_rgb9e5(rgb: vec3<f32>) -> u32 {
    let largest_value = 65408.0; // (2⁹ − 1) / 2⁹ · 2¹⁶
    let c = clamp(rgb, vec3<f32>(0.0), vec3<f32>(largest_value));
    let brightest = max(c.r, max(c.g, c.b));
    var e = max(-16.0, floor(log2(max(brightest, 1.0e-30)))) + 16.0;
    var unit = exp2(e - 24.0);
    if floor(brightest / unit + 0.5) >= 512.0 {
        unit *= 2.0;
        e += 1.0;
    }
    let m = vec3<u32>(min(floor(c / unit + vec3<f32>(0.5)), vec3<f32>(511.0)));
    return (u32(e) << 27u) | (m.b << 18u) | (m.g << 9u) | m.r;
}

// Adds one fragment (straight colour, alpha) at this depth to the pixel's list.
fn oit_push(pixel: vec2<f32>, depth: f32, colour: vec4<f32>) {
    if colour.a <= oit_settings.alpha_threshold {
        return;
    }
    let screen_index = u32(floor(pixel.x) + floor(pixel.y) * view.viewport.z);
    let index = atomicAdd(&oit_atomic_counter, 1u);
    if index >= oit_nodes_capacity {
        return;
    }
    // Heads count from 1 (0 ends a list).
    let next = atomicExchange(&oit_heads[screen_index], index + 1u) - 1u;
    let depth_bits = u32(clamp(depth, 0.0, 1.0) * 16777215.0 + 0.5);
    let alpha_bits = u32(clamp(colour.a, 0.0, 1.0) * 255.0 + 0.5);
    oit_nodes[index] = OitNode(pack_rgb9e5(colour.rgb), (depth_bits << 8u) | alpha_bits, next);
}
#endif

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
        let ray = project(o, d, inv_d, t, span.y, dt, mode == 1u);
        let grey = clamp((ray.value.x - volume.window.x) / max(volume.window.y - volume.window.x, 1.0e-6), 0.0, 1.0);
        // MIP as light over what lies behind: over black the pixel is exactly the window's
        // grey (its linear value at the grey's opacity); dark parts let the surfaces behind
        // show. MinIP is opaque.
        let shown = srgb_to_linear(vec3<f32>(grey));
        if mode == 1u {
            if grey <= 0.0 {
                discard;
            }
            return emit(in.frag_coord, shown / grey, grey, eye + ray.t * dir);
        }
        return emit(in.frag_coord, shown, 1.0, eye + ray.t * dir);
    }
    let ray = composite(o, d, inv_d, dir, t, span.y, dt, m);
    let acc = ray.value;
    if acc.a <= 0.0 {
        discard;
    }
    // Colours are display (sRGB) values composited as such, as in VTK and Slicer; the
    // target stores linear light.
    let shown = srgb_to_linear(clamp(acc.rgb / acc.a, vec3<f32>(0.0), vec3<f32>(1.0)));
    return emit(in.frag_coord, shown, acc.a, eye + ray.t * dir);
}
