// Test helper: a real RTSP server (GStreamer's, Debian libgstrtspserver) standing in for
// MediaMTX's RTSP side: it serves rtsp://127.0.0.1:<port>/live/<id>/in for each id given, by
// relaying the RTMP stream the publisher sent (as MediaMTX serves RTSP from an RTMP publish).
//   rtsp-source-server <rtsp-port> <rtmp-base-url> <id>...
#include <gst/gst.h>
#include <gst/rtsp-server/rtsp-server.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  gst_init(&argc, &argv);
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s <rtsp-port> <rtmp-base-url> <stream-id>...\n", argv[0]);
    return 2;
  }
  GMainLoop* loop = g_main_loop_new(nullptr, FALSE);
  GstRTSPServer* server = gst_rtsp_server_new();
  gst_rtsp_server_set_address(server, "127.0.0.1");
  gst_rtsp_server_set_service(server, argv[1]);
  GstRTSPMountPoints* mounts = gst_rtsp_server_get_mount_points(server);
  for (int i = 3; i < argc; ++i) {
    const std::string id = argv[i];
    GstRTSPMediaFactory* factory = gst_rtsp_media_factory_new();
    // H.264 passed through, AAC repacketised: nothing re-encoded, as MediaMTX does.
    const std::string launch = "( rtmp2src location=" + std::string(argv[2]) + "/live/" + id +
                               "/in ! flvdemux name=d d.video ! queue ! h264parse config-interval=-1 ! "
                               "rtph264pay name=pay0 pt=96 config-interval=-1 d.audio ! queue ! aacparse ! "
                               "rtpmp4gpay name=pay1 pt=97 )";
    gst_rtsp_media_factory_set_launch(factory, launch.c_str());
    gst_rtsp_media_factory_set_shared(factory, TRUE);
    gst_rtsp_media_factory_set_protocols(factory, GST_RTSP_LOWER_TRANS_TCP);
    gst_rtsp_mount_points_add_factory(mounts, ("/live/" + id + "/in").c_str(), factory);
  }
  g_object_unref(mounts);
  if (gst_rtsp_server_attach(server, nullptr) == 0) {
    std::fprintf(stderr, "rtsp-source-server: cannot listen on 127.0.0.1:%s\n", argv[1]);
    return 1;
  }
  std::printf("rtsp-source-server: listening on rtsp://127.0.0.1:%s\n", argv[1]);
  std::fflush(stdout);
  g_main_loop_run(loop);
  return 0;
}
