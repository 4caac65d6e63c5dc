use proptest::prelude::*;

use super::*;

/// An I420 image of one colour.
fn solid_i420(w: u32, h: u32, yuv: [u8; 3]) -> [Vec<u8>; 3] {
    let (cw, ch) = chroma_size(w, h);
    [
        vec![yuv[0]; (w * h) as usize],
        vec![yuv[1]; (cw * ch) as usize],
        vec![yuv[2]; (cw * ch) as usize],
    ]
}

fn planes(p: &[Vec<u8>; 3], w: u32) -> [Plane<'_>; 3] {
    let cw = chroma_size(w, 1).0 as usize;
    [
        Plane {
            data: &p[0],
            stride: w as usize,
        },
        Plane {
            data: &p[1],
            stride: cw,
        },
        Plane {
            data: &p[2],
            stride: cw,
        },
    ]
}

#[test]
fn bt601_limited_colours_convert_to_their_rgb() {
    // BT.601 limited range: (Y, Cb, Cr) of pure red, green, blue, white, black.
    for (yuv, rgb) in [
        ([81u8, 90, 240], [255u8, 0, 0]),
        ([145, 54, 34], [0, 255, 0]),
        ([41, 240, 110], [0, 0, 255]),
        ([235, 128, 128], [255, 255, 255]),
        ([16, 128, 128], [0, 0, 0]),
    ] {
        let p = solid_i420(6, 4, yuv);
        let v = YuvView::i420(6, 4, planes(&p, 6), Matrix::Bt601, false).expect("view");
        let img = PixelView::Yuv(v).to_rgb_image().expect("rgb");
        for px in img.pixels() {
            for k in 0..3 {
                assert!(
                    (i16::from(px.0[k]) - i16::from(rgb[k])).abs() <= 3,
                    "{yuv:?} gave {:?}, expected {rgb:?}",
                    px.0
                );
            }
        }
    }
}

#[test]
fn nv12_and_i420_of_the_same_picture_agree() {
    let (w, h) = (9u32, 5u32);
    let (cw, ch) = chroma_size(w, h);
    let y: Vec<u8> = (0..w * h).map(|i| (16 + i * 7 % 200) as u8).collect();
    let u: Vec<u8> = (0..cw * ch).map(|i| (60 + i * 13 % 120) as u8).collect();
    let v: Vec<u8> = (0..cw * ch).map(|i| (200 - i * 11 % 120) as u8).collect();
    let uv: Vec<u8> = u.iter().zip(&v).flat_map(|(a, b)| [*a, *b]).collect();
    let i420 = [y.clone(), u, v];
    let a = YuvView::i420(w, h, planes(&i420, w), Matrix::Bt709, false).expect("i420");
    let b = YuvView::nv12(
        w,
        h,
        [
            Plane {
                data: &y,
                stride: w as usize,
            },
            Plane {
                data: &uv,
                stride: cw as usize * 2,
            },
        ],
        Matrix::Bt709,
        false,
    )
    .expect("nv12");
    let (mut ra, mut rb) = (Vec::new(), Vec::new());
    a.to_rgb(&mut ra).expect("i420 → rgb");
    b.to_rgb(&mut rb).expect("nv12 → rgb");
    assert_eq!(ra.len(), (w * h * 3) as usize);
    let worst = ra
        .iter()
        .zip(&rb)
        .map(|(x, y)| (i16::from(*x) - i16::from(*y)).abs())
        .max();
    assert!(worst <= Some(2), "largest difference {worst:?}");
}

#[test]
fn views_refuse_planes_that_do_not_hold_the_picture() {
    let p = solid_i420(8, 4, [100, 128, 128]);
    assert!(YuvView::i420(8, 4, planes(&p, 8), Matrix::Bt601, false).is_some());
    // One row too many, a zero size, a stride shorter than a row.
    assert!(YuvView::i420(8, 5, planes(&p, 8), Matrix::Bt601, false).is_none());
    assert!(YuvView::i420(0, 4, planes(&p, 8), Matrix::Bt601, false).is_none());
    assert!(YuvView::i420(8, 0, planes(&p, 8), Matrix::Bt601, false).is_none());
    let mut short = planes(&p, 8);
    short[1].stride = 3;
    assert!(YuvView::i420(8, 4, short, Matrix::Bt601, false).is_none());
    let [y, uv, _] = planes(&p, 8);
    // The UV plane of NV12 holds twice the bytes per row of one chroma plane.
    assert!(YuvView::nv12(8, 4, [y, uv], Matrix::Bt601, false).is_none());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any sizes, strides and buffer lengths: a view is refused or converts, never a panic.
    #[test]
    fn arbitrary_planes_never_panic(
        w in 0u32..40, h in 0u32..40, nv12 in any::<bool>(),
        strides in proptest::array::uniform3(0usize..90),
        lens in proptest::array::uniform3(0usize..4000),
    ) {
        let bufs: Vec<Vec<u8>> = lens.iter().map(|n| vec![128u8; *n]).collect();
        let plane = |i: usize| Plane { data: &bufs[i], stride: strides[i] };
        let view = if nv12 {
            YuvView::nv12(w, h, [plane(0), plane(1)], Matrix::Bt601, true)
        } else {
            YuvView::i420(w, h, [plane(0), plane(1), plane(2)], Matrix::Bt601, false)
        };
        if let Some(v) = view {
            let mut rgb = Vec::new();
            prop_assert!(v.to_rgb(&mut rgb).is_ok());
            prop_assert_eq!(rgb.len(), (w * h * 3) as usize);
        }
    }
}
