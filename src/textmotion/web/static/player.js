// The motion player: two-person stick figures moving in 3D, one view per result card.
//
// One WebGL renderer draws every view (a full-window canvas above the page that ignores the
// mouse; each view is scissored to its card's element), so any number of cards share a single
// WebGL context. A clip is the JSON of textmotion.web.clip_payload: y-up joint positions,
// the skeleton's bones and the colours of the project's stick-figure renderer.
import * as THREE from "three";
import { OrbitControls } from "three/addons/OrbitControls.js";

const BONE_RADIUS = 0.025;
const HEAD_RADIUS = 0.09;
const UP = new THREE.Vector3(0, 1, 0);

class Figure {
    // Both persons of one clip: a cylinder per bone and a sphere per head, moved every frame.
    constructor(scene, clip) {
        this.clip = clip;
        this.bones = [];
        const cylinder = new THREE.CylinderGeometry(BONE_RADIUS, BONE_RADIUS, 1, 8);
        const sphere = new THREE.SphereGeometry(HEAD_RADIUS, 16, 12);
        for (let person = 0; person < clip.persons; person++) {
            const [leftColour, colour] = clip.colours[person];
            const materials = [colour, leftColour].map((c) => new THREE.MeshLambertMaterial({ color: c }));
            clip.bones.forEach(([joint, parent], b) => {
                const mesh = new THREE.Mesh(cylinder, materials[clip.left[b] ? 1 : 0]);
                scene.add(mesh);
                this.bones.push({ mesh, person, joint, parent });
            });
            const head = new THREE.Mesh(sphere, materials[0]);
            scene.add(head);
            this.bones.push({ mesh: head, person, joint: clip.head, parent: null });
        }
    }

    joint(frame, person, joint) {
        const c = this.clip, i = ((frame * c.persons + person) * c.joints + joint) * 3;
        return new THREE.Vector3(c.positions[i], c.positions[i + 1], c.positions[i + 2]);
    }

    show(frame) {
        for (const { mesh, person, joint, parent } of this.bones) {
            const end = this.joint(frame, person, joint);
            if (parent === null) {
                mesh.position.copy(end);
                continue;
            }
            const start = this.joint(frame, person, parent);
            const along = end.clone().sub(start);
            mesh.position.copy(start).addScaledVector(along, 0.5);
            mesh.scale.set(1, Math.max(along.length(), 1e-6), 1);
            mesh.quaternion.setFromUnitVectors(UP, along.normalize());
        }
    }
}

function bounds(clip) {
    const box = new THREE.Box3();
    for (let i = 0; i < clip.positions.length; i += 3) {
        box.expandByPoint(new THREE.Vector3(clip.positions[i], clip.positions[i + 1], clip.positions[i + 2]));
    }
    return box;
}

export class Stage {
    constructor(canvas) {
        this.canvas = canvas;
        this.renderer = new THREE.WebGLRenderer({ canvas, antialias: true, alpha: true });
        this.renderer.setPixelRatio(window.devicePixelRatio);
        this.views = [];
        this.start = performance.now();
        this.renderer.setAnimationLoop(() => this.draw());
    }

    clear() {
        for (const view of this.views) view.controls.dispose();
        this.views = [];
    }

    add(element, clip) {
        // A view of `clip` inside `element`: floor grid, lights, camera and mouse orbit.
        const scene = new THREE.Scene();
        scene.background = new THREE.Color(0xf6f6f6);
        scene.add(new THREE.HemisphereLight(0xffffff, 0x888888, 2.0));
        const sun = new THREE.DirectionalLight(0xffffff, 1.5);
        sun.position.set(3, 6, 4);
        scene.add(sun);
        const box = bounds(clip), centre = box.getCenter(new THREE.Vector3()), size = box.getSize(new THREE.Vector3());
        const floor = Math.ceil(Math.max(size.x, size.z) + 2);
        const grid = new THREE.GridHelper(floor, floor * 2, 0xbbbbbb, 0xdddddd);
        grid.position.set(centre.x, 0, centre.z);
        scene.add(grid);
        const camera = new THREE.PerspectiveCamera(40, 1, 0.05, 100);
        const distance = 0.8 * Math.max(size.x, size.y, size.z, 2) / Math.tan(THREE.MathUtils.degToRad(20));
        const target = new THREE.Vector3(centre.x, size.y / 2, centre.z);
        camera.position.copy(target).add(new THREE.Vector3(0.5, 0.35, 0.8).normalize().multiplyScalar(distance));
        const controls = new OrbitControls(camera, element);
        controls.target.copy(target);
        controls.update();
        this.views.push({ element, scene, camera, controls, figure: new Figure(scene, clip) });
    }

    draw() {
        const width = this.canvas.clientWidth, height = this.canvas.clientHeight;
        if (this.canvas.width !== Math.floor(width * window.devicePixelRatio)
            || this.canvas.height !== Math.floor(height * window.devicePixelRatio)) {
            this.renderer.setSize(width, height, false);
        }
        this.renderer.setScissorTest(false);
        this.renderer.setClearColor(0xffffff, 0);  // a view's background changed the clear colour
        this.renderer.clear();
        this.renderer.setScissorTest(true);
        const seconds = (performance.now() - this.start) / 1000;
        for (const view of this.views) {
            const rect = view.element.getBoundingClientRect();
            if (rect.bottom < 0 || rect.top > height || rect.right < 0 || rect.left > width) continue;
            const clip = view.figure.clip;
            view.figure.show(Math.floor(seconds * clip.fps) % clip.frames);
            view.camera.aspect = rect.width / rect.height;
            view.camera.updateProjectionMatrix();
            const bottom = height - rect.bottom;
            this.renderer.setViewport(rect.left, bottom, rect.width, rect.height);
            this.renderer.setScissor(rect.left, bottom, rect.width, rect.height);
            this.renderer.render(view.scene, view.camera);
        }
    }
}

export function showCard(container, stage, { title, caption, detail, mark, clip }) {
    // One result card: the playing view, a title line, the caption and a detail line.
    const card = document.createElement("figure");
    card.className = "card" + (mark ? ` ${mark}` : "");
    const view = document.createElement("div");
    view.className = "view";
    const label = document.createElement("figcaption");
    for (const [tag, text, cls] of [["strong", title, "title"], ["span", caption, "caption"], ["small", detail, "detail"]]) {
        if (!text) continue;
        const part = document.createElement(tag);
        part.className = cls;
        part.textContent = text;
        label.append(part);
    }
    card.append(view, label);
    container.append(card);
    stage.add(view, clip);
    return card;
}
