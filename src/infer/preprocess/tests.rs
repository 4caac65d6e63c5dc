use super::*;

fn spec(layout: Layout, order: ChannelOrder, resize: ResizeMode, w: u32, h: u32) -> InputSpec {
    InputSpec {
        name: "in".into(),
        layout,
        width: w,
        height: h,
        channel_order: order,
        resize,
        mean: [0.0; 3],
        std: [1.0; 3],
        pad_value: 114,
    }
}

#[test]
fn letterbox_round_trip_is_exact() {
    for (sw, sh) in [(1920, 1080), (768, 576), (500, 1000), (640, 640), (17, 3)] {
        let (place, t) = Transform::fit(sw, sh, 640, 640, ResizeMode::Letterbox);
        assert!(place.width <= 640 && place.height <= 640);
        assert!(
            place.width == 640 || place.height == 640,
            "fills one axis: {place:?}"
        );
        let b = BBox::new(
            sw as f32 * 0.1,
            sh as f32 * 0.2,
            sw as f32 * 0.7,
            sh as f32 * 0.9,
        );
        let back = t.to_source(&t.to_input(&b));
        for (a, b) in back.to_array().iter().zip(b.to_array()) {
            assert!((a - b).abs() < 1e-3, "{sw}x{sh}: {back:?} vs {b:?}");
        }
    }
}

#[test]
fn letterbox_centres_the_image_with_padding() {
    let (place, t) = Transform::fit(1920, 1080, 640, 640, ResizeMode::Letterbox);
    assert_eq!(
        place,
        Placement {
            width: 640,
            height: 360,
            left: 0,
            top: 140
        }
    );
    // The input's top-left image corner is the source's (0, 0).
    let b = t.to_source(&BBox::new(0.0, 140.0, 640.0, 500.0));
    assert_eq!(b, BBox::new(0.0, 0.0, 1920.0, 1080.0));
}

#[test]
fn stretch_maps_each_axis_and_clips() {
    let (_, t) = Transform::fit(1024, 256, 512, 512, ResizeMode::Stretch);
    let b = t.to_source(&BBox::new(-10.0, 256.0, 256.0, 600.0));
    assert_eq!(b, BBox::new(0.0, 128.0, 512.0, 256.0));
}

#[test]
fn nchw_bgr_puts_blue_in_the_first_plane() {
    let mut s = spec(Layout::Nchw, ChannelOrder::Bgr, ResizeMode::Stretch, 2, 1);
    s.mean = [1.0, 2.0, 3.0];
    s.std = [2.0, 2.0, 2.0];
    let mut p = Preprocessor::new(&s);
    let data = [10u8, 20, 30, 40, 50, 60];
    p.run(RgbView::packed(2, 1, &data).expect("view"))
        .expect("run");
    assert_eq!(p.shape(), [1, 3, 1, 2]);
    // plane 0 = blue: (30-1)/2, (60-1)/2; plane 1 = green; plane 2 = red.
    assert_eq!(p.tensor(), &[14.5, 29.5, 9.0, 24.0, 3.5, 18.5]);
}

#[test]
fn nhwc_letterbox_pads_with_the_pad_value_and_respects_stride() {
    let s = spec(Layout::Nhwc, ChannelOrder::Rgb, ResizeMode::Letterbox, 4, 4);
    let mut p = Preprocessor::new(&s);
    // A 4×2 image whose rows are padded to 16 bytes.
    let mut data = vec![0u8; 16 * 2];
    for y in 0..2 {
        for x in 0..4 {
            data[y * 16 + x * 3..y * 16 + x * 3 + 3].copy_from_slice(&[200, 100, 50]);
        }
        data[y * 16 + 12..y * 16 + 16].copy_from_slice(&[9, 9, 9, 9]);
    }
    let t = p
        .run(RgbView::strided(4, 2, 16, &data).expect("view"))
        .expect("run");
    assert_eq!((t.pad_x, t.pad_y), (0.0, 1.0));
    let px = |x: usize, y: usize| &p.tensor()[(y * 4 + x) * 3..(y * 4 + x) * 3 + 3];
    assert_eq!(px(0, 0), &[114.0, 114.0, 114.0]);
    assert_eq!(px(3, 1), &[200.0, 100.0, 50.0]);
    assert_eq!(px(0, 2), &[200.0, 100.0, 50.0]);
    assert_eq!(px(2, 3), &[114.0, 114.0, 114.0]);
}

#[test]
fn shrinking_averages_instead_of_sampling() {
    // A 1-pixel checkerboard shrunk 8× must come out mid-grey, not black or white.
    let (w, h) = (64u32, 64u32);
    let data: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let v = if (i % w + i / w) % 2 == 0 { 255 } else { 0 };
            [v, v, v]
        })
        .collect();
    let s = spec(Layout::Nhwc, ChannelOrder::Rgb, ResizeMode::Stretch, 8, 8);
    let mut p = Preprocessor::new(&s);
    p.run(RgbView::packed(w, h, &data).expect("view"))
        .expect("run");
    for v in p.tensor() {
        assert!((v - 127.5).abs() < 8.0, "{v}");
    }
}

/// The same picture as RGB and as I420 fills nearly the same tensor: YUV frames are resized
/// plane by plane and converted at the input size, RGB ones converted first.
#[test]
fn yuv_frames_fill_the_tensor_as_their_rgb_does() {
    use crate::pixels::{Matrix, PixelView, Plane, YuvView};
    use ::yuv::{YuvChromaSubsampling, YuvPlanarImageMut};
    let (w, h) = (96u32, 70u32);
    // A smooth picture with colour: what chroma subsampling keeps.
    let rgb: Vec<u8> = (0..h)
        .flat_map(|y| {
            (0..w).flat_map(move |x| [(x * 255 / w) as u8, (y * 255 / h) as u8, (60 + x + y) as u8])
        })
        .collect();
    let mut planar = YuvPlanarImageMut::<u8>::alloc(w, h, YuvChromaSubsampling::Yuv420);
    ::yuv::rgb_to_yuv420(
        &mut planar,
        &rgb,
        w * 3,
        ::yuv::YuvRange::Limited,
        ::yuv::YuvStandardMatrix::Bt601,
        ::yuv::YuvConversionMode::Balanced,
    )
    .expect("to yuv");
    let cw = w.div_ceil(2) as usize;
    let view = YuvView::i420(
        w,
        h,
        [
            Plane {
                data: planar.y_plane.borrow(),
                stride: w as usize,
            },
            Plane {
                data: planar.u_plane.borrow(),
                stride: cw,
            },
            Plane {
                data: planar.v_plane.borrow(),
                stride: cw,
            },
        ],
        Matrix::Bt601,
        false,
    )
    .expect("view");
    for layout in [Layout::Nhwc, Layout::Nchw] {
        let s = spec(layout, ChannelOrder::Bgr, ResizeMode::Letterbox, 40, 40);
        let (mut a, mut b) = (Preprocessor::new(&s), Preprocessor::new(&s));
        let ta = a
            .run(RgbView::packed(w, h, &rgb).expect("rgb"))
            .expect("rgb run");
        let tb = b.run(PixelView::Yuv(view)).expect("yuv run");
        assert_eq!(ta, tb);
        let diffs: Vec<f32> = a
            .tensor()
            .iter()
            .zip(b.tensor())
            .map(|(x, y)| (x - y).abs())
            .collect();
        let mean = diffs.iter().sum::<f32>() / diffs.len() as f32;
        let worst = diffs.iter().fold(0f32, |m, d| m.max(*d));
        assert!(
            mean < 2.0 && worst < 12.0,
            "{layout:?}: mean {mean}, worst {worst}"
        );
    }
}
