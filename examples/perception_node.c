/* SPDX-License-Identifier: Apache-2.0 */
/*
 * perception_node: the publishing half of the demo.
 *
 *   perception_node [--duration S] [--rate HZ] [--points N] [--config FILE]
 *
 * Publishes, at --rate (default 10 Hz):
 *   /perception/obstacles  axon.perception.ObstacleList  a few tracked objects
 *   /perception/points     axon.sensor.PointCloud        N points x 16 bytes
 *                                                        (default 65536: 1 MiB)
 * each stamped with the source time and a sequence number, until
 * --duration seconds have passed (default: until Ctrl-C).
 */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "axon/axon.h"
#include "axon/msgs/perception.pb-c.h"
#include "axon/msgs/sensor.pb-c.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "perception_node: %s: %s\n", what, ax_strerror(rc));
    exit(1);
}

static void sleep_until(int64_t mono_ns)
{
    struct timespec ts = {.tv_sec = mono_ns / AX_NS_PER_S, .tv_nsec = mono_ns % AX_NS_PER_S};
    while (!stop && clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) != 0) {
    }
}

int main(int argc, char **argv)
{
    double duration = 0, rate = 10;
    long npoints = 65536;
    const char *config = NULL;
    static const struct option opts[] = {{"duration", 1, 0, 'd'}, {"rate", 1, 0, 'r'},
                                         {"points", 1, 0, 'p'},   {"config", 1, 0, 'c'},
                                         {"help", 0, 0, 'h'},     {0, 0, 0, 0}};
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (o) {
        case 'd':
            duration = atof(optarg);
            break;
        case 'r':
            rate = atof(optarg);
            break;
        case 'p':
            npoints = atol(optarg);
            break;
        case 'c':
            config = optarg;
            break;
        default:
            printf("usage: perception_node [--duration S] [--rate HZ] [--points N] "
                   "[--config FILE]\n");
            return o == 'h' ? 0 : 2;
        }
    }
    if (rate <= 0 || npoints < 0)
        return 2;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);

    struct ax_config cfg;
    struct ax_config_error err;
    ax_config_init(&cfg);
    snprintf(cfg.node_name, sizeof cfg.node_name, "perception");
    if ((config && ax_config_load_file(&cfg, config, &err) < 0) ||
        ax_config_apply_env(&cfg, &err) < 0) {
        char buf[512];
        fprintf(stderr, "perception_node: %s\n", ax_config_error_str(&err, buf, sizeof buf));
        return 1;
    }
    ax_node *node;
    int rc = ax_node_new(&node, &cfg);
    if (rc < 0)
        die("node", rc);

    const ax_type *t_obs, *t_pc;
    if ((rc = ax_type_find("axon.perception.ObstacleList", &t_obs)) < 0 ||
        (rc = ax_type_find("axon.sensor.PointCloud", &t_pc)) < 0)
        die("types", rc);
    ax_pub *p_obs, *p_pc;
    struct ax_pub_options po;
    ax_pub_options_init(&po);
    po.qos = AX_QOS_DEFAULT; /* obstacles: reliable */
    if ((rc = ax_pub_new(&p_obs, node, "/perception/obstacles", t_obs, &po)) < 0)
        die("publisher /perception/obstacles", rc);
    po.qos = AX_QOS_SENSOR_DATA; /* point clouds: the newest matters */
    if ((rc = ax_pub_new(&p_pc, node, "/perception/points", t_pc, &po)) < 0)
        die("publisher /perception/points", rc);

    /* The point cloud: x, y, z, intensity as float32. */
    Axon__Sensor__PointField fx = AXON__SENSOR__POINT_FIELD__INIT, fy = fx, fz = fx, fi = fx;
    fx.name = "x";
    fy.name = "y";
    fy.offset = 4;
    fz.name = "z";
    fz.offset = 8;
    fi.name = "intensity";
    fi.offset = 12;
    Axon__Sensor__PointField *fields[4] = {&fx, &fy, &fz, &fi};
    for (int i = 0; i < 4; i++) {
        fields[i]->datatype = AXON__SENSOR__POINT_FIELD__DATA_TYPE__FLOAT32;
        fields[i]->count = 1;
    }
    Axon__Sensor__PointCloud pc = AXON__SENSOR__POINT_CLOUD__INIT;
    Axon__Std__Header pc_hdr = AXON__STD__HEADER__INIT;
    pc.header = &pc_hdr;
    pc_hdr.frame_id = "lidar_top";
    pc.height = 1;
    pc.width = (uint32_t)npoints;
    pc.n_fields = 4;
    pc.fields = fields;
    pc.point_step = 16;
    pc.row_step = (uint32_t)npoints * 16;
    pc.is_dense = true;
    pc.data.len = (size_t)npoints * 16;
    pc.data.data = malloc(pc.data.len ? pc.data.len : 1);

    /* A few tracked objects moving around the ego vehicle. */
    enum { NOBS = 6 };
    Axon__Perception__Obstacle obs[NOBS], *obs_ptr[NOBS];
    Axon__Geometry__Pose pose[NOBS];
    Axon__Geometry__Point pos[NOBS];
    Axon__Geometry__Vector3 size[NOBS], vel[NOBS];
    for (int i = 0; i < NOBS; i++) {
        axon__perception__obstacle__init(&obs[i]);
        axon__geometry__pose__init(&pose[i]);
        axon__geometry__point__init(&pos[i]);
        axon__geometry__vector3__init(&size[i]);
        axon__geometry__vector3__init(&vel[i]);
        obs[i].id = (uint64_t)(i + 1);
        obs[i].classification = i % 3 == 0 ? AXON__PERCEPTION__OBSTACLE__CLASS__PEDESTRIAN
                                           : AXON__PERCEPTION__OBSTACLE__CLASS__CAR;
        obs[i].confidence = 0.9f - 0.05f * (float)i;
        obs[i].pose = &pose[i];
        pose[i].position = &pos[i];
        obs[i].size = &size[i];
        size[i].x = i % 3 == 0 ? 0.6 : 4.5;
        size[i].y = i % 3 == 0 ? 0.6 : 1.9;
        size[i].z = i % 3 == 0 ? 1.8 : 1.5;
        obs[i].velocity = &vel[i];
        obs_ptr[i] = &obs[i];
    }
    Axon__Perception__ObstacleList list = AXON__PERCEPTION__OBSTACLE_LIST__INIT;
    Axon__Std__Header obs_hdr = AXON__STD__HEADER__INIT;
    list.header = &obs_hdr;
    obs_hdr.frame_id = "base_link";
    list.n_obstacles = NOBS;
    list.obstacles = obs_ptr;
    list.source = "perception_node";

    printf("perception_node: publishing /perception/obstacles and /perception/points "
           "(%.1f MiB) at %.0f Hz\n",
           (double)pc.data.len / (1 << 20), rate);
    fflush(stdout);
    int64_t period = (int64_t)(AX_NS_PER_S / rate);
    int64_t start = ax_clock_mono_ns(), next = start;
    uint64_t seq = 0;
    while (!stop && (duration <= 0 || ax_clock_mono_ns() - start < (int64_t)(duration * 1e9))) {
        seq++;
        double t = (double)(next - start) / 1e9;
        for (int i = 0; i < NOBS; i++) {
            double a = t * 0.2 + i;
            pos[i].x = 10 * cos(a) + 3 * i;
            pos[i].y = 10 * sin(a);
            vel[i].x = -2 * sin(a);
            vel[i].y = 2 * cos(a);
        }
        float *f = (float *)pc.data.data;
        for (long k = 0; k < npoints; k++) { /* a slowly turning ring */
            double a = (double)k * 6.283185 / (double)(npoints ? npoints : 1) + t * 0.1;
            f[4 * k] = (float)(20 * cos(a));
            f[4 * k + 1] = (float)(20 * sin(a));
            f[4 * k + 2] = (float)(k % 32) * 0.1f;
            f[4 * k + 3] = (float)(k % 255);
        }
        obs_hdr.stamp_ns = pc_hdr.stamp_ns = ax_clock_real_ns();
        obs_hdr.seq = pc_hdr.seq = seq;
        if ((rc = ax_pub_publish(p_obs, &list.base)) < 0)
            fprintf(stderr, "perception_node: publish obstacles: %s\n", ax_strerror(rc));
        if ((rc = ax_pub_publish(p_pc, &pc.base)) < 0)
            fprintf(stderr, "perception_node: publish points: %s\n", ax_strerror(rc));
        next += period;
        sleep_until(next);
    }
    struct ax_endpoint_counters c1, c2;
    ax_pub_counters(p_obs, &c1);
    ax_pub_counters(p_pc, &c2);
    printf("perception_node: published %llu obstacle lists, %llu point clouds (%.1f MiB)\n",
           (unsigned long long)c1.messages, (unsigned long long)c2.messages,
           (double)c2.bytes / (1 << 20));
    ax_pub_free(p_obs);
    ax_pub_free(p_pc);
    ax_node_destroy(node);
    ax_config_fini(&cfg);
    free(pc.data.data);
    return 0;
}
